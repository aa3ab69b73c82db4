import Testing

@testable import Stripe

@Suite struct StripeFormTests {
    @Test func encodesFieldsInOrderWithNestedKeys() {
        var form = StripeForm()
        form.add("amount", 45000)
        form.add("currency", "pln")
        form.add("metadata", dictionary: ["order_id": "ord_2", "checkout_id": "chk_1"])
        form.add("payment_method_types", list: ["card"])
        #expect(
            form.encoded
                == "amount=45000&currency=pln&metadata[checkout_id]=chk_1&metadata[order_id]=ord_2"
                + "&payment_method_types[]=card")
    }

    @Test func percentEncodesValues() {
        var form = StripeForm()
        form.add("description", "Café & co=1+2 /?#%")
        #expect(form.encoded == "description=Caf%C3%A9%20%26%20co%3D1%2B2%20%2F%3F%23%25")
    }

    @Test func keepsUnreservedCharacters() {
        var form = StripeForm()
        form.add("k", "AZaz09-._~")
        #expect(form.encoded == "k=AZaz09-._~")
    }

    @Test func percentEncodesNamesInsideBracketsButKeepsTheBrackets() {
        var form = StripeForm()
        form.add("metadata", dictionary: ["zażółć key": "v&w"])
        #expect(form.encoded == "metadata[za%C5%BC%C3%B3%C5%82%C4%87%20key]=v%26w")
    }

    @Test func encodesAnEmptyFormAsAnEmptyBody() {
        #expect(StripeForm().encoded == "")
        #expect(StripeForm().bytes == [])
    }

    @Test func encodesEmptyValuesAndLists() {
        var form = StripeForm()
        form.add("a", "")
        form.add("list", list: ["x", "y"])
        #expect(form.encoded == "a=&list[]=x&list[]=y")
    }
}
