import EventStore
import Foundation
import Identity
import Postgres
import Web

/// The Finance pages: one's financial details (`/account/financial-info`), one's invoices
/// (`/invoices`) and each document's printable page (`/invoices/{id}`), the organisers' and
/// admins' monthly register (`/admin/finance/register`), and a concert's VAT rate
/// (`/admin/concerts/{id}/vat`). Forms post back to their page; a success redirects (PRG), a
/// failure shows the form again with what was typed and the error next to its field.
struct FinancePages: Sendable {
    let api: FinanceAPI

    func add(to router: inout Router<RequestContext>) {
        router.get("/account/financial-info", financialInfo)
        router.post("/account/financial-info", saveFinancialInfo)
        router.get("/invoices", invoices)
        router.get("/invoices/:id", document)
        router.get("/admin/finance/register", register)
        router.get("/admin/concerts/:id/vat", vatRate)
        router.post("/admin/concerts/:id/vat", setVATRate)
    }

    // MARK: Financial details

    struct FinancialInfoPage: Encodable {
        let typed: FormFields
        let errors: FormFields
        let notice: String?
        let isOrganiser: Bool
    }

    static let detailFields = ["legalName", "line1", "line2", "postalCode", "city", "country", "taxId"]

    func financialInfo(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        guard let principal = context.principal else {
            return .redirect(to: "/signin?next=/account/financial-info")
        }
        let state = try context.database.with { try api.details($0).load(principal.userId) }
        var typed = FormFields(["country": "PL"])
        if let details = state.details {
            typed = FormFields([
                "legalName": details.legalName, "line1": details.address.line1, "line2": details.address.line2 ?? "",
                "postalCode": details.address.postalCode, "city": details.address.city,
                "country": details.address.country, "taxId": details.taxId ?? "",
            ])
        }
        return try context.page(
            "financial_info", title: "Financial details",
            FinancialInfoPage(
                typed: typed, errors: FormFields(),
                notice: request.query["done"] == "saved" ? "Your financial details are saved." : nil,
                isOrganiser: principal.role >= .organiser))
    }

    func saveFinancialInfo(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let form = request.form
        return try HTTPError.answering {
            let details = try FinancialDetails(
                legalName: form["legalName"] ?? "", line1: form["line1"] ?? "", line2: form["line2"],
                postalCode: form["postalCode"] ?? "", city: form["city"] ?? "", country: form["country"] ?? "",
                taxId: form["taxId"])
            _ = try api.save(details, for: principal, request: request, context: context)
            return .redirect(to: "/account/financial-info?done=saved")
        } withPage: { error in
            try context.page(
                "financial_info", title: "Financial details",
                FinancialInfoPage(
                    typed: FormFields(form.filter { Self.detailFields.contains($0.key) }),
                    errors: FormFields(error: error), notice: nil, isOrganiser: principal.role >= .organiser))
        }
    }

    // MARK: Documents

    struct InvoicesPage: Encodable {
        struct Row: Encodable {
            let id: String
            let number: String
            let kind: String
            let isCreditNote: Bool
            let issueDate: String
            let counterparty: String
            let gross: String
            let corrects: String?
        }
        let documents: [Row]
        let hasDocuments: Bool
        let isOrganiser: Bool
    }

    func invoices(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        guard let principal = context.principal else { return .redirect(to: "/signin?next=/invoices") }
        let documents = try context.database.with { try api.visibleDocuments(principal, on: $0) }
        let rows = documents.map { document in
            InvoicesPage.Row(
                id: document.id, number: document.number,
                kind: document.isCreditNote ? "Credit note" : "Invoice", isCreditNote: document.isCreditNote,
                issueDate: document.issueDate,
                counterparty: document.buyerUserId == principal.userId
                    ? document.seller.legalName : document.buyer.legalName,
                gross: MoneyText.display(document.totals.gross, document.currency), corrects: document.correctsNumber)
        }
        return try context.page(
            "invoices", title: "Invoices",
            InvoicesPage(documents: rows, hasDocuments: !rows.isEmpty, isOrganiser: principal.role >= .organiser))
    }

    func document(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let id = request.routeParameters["id"] ?? ""
        guard let principal = context.principal else { return .redirect(to: "/signin?next=/invoices/\(id)") }
        let (document, creditNotes) = try context.database.with { connection in
            let document = try api.visible(id, to: principal, on: connection)
            return (document, try FinanceQueries.creditNotes(of: document.id, on: connection))
        }
        return try DocumentPage(document, creditNotes: creditNotes, forPDF: false).response(context.templates)
    }

    // MARK: Register

    struct RegisterPage: Encodable {
        struct Row: Encodable {
            let id: String
            let number: String
            let kind: String
            let issueDate: String
            let corrects: String?
            let buyer: String
            let buyerTaxId: String?
            let net: String
            let tax: String
            let gross: String
        }
        struct Total: Encodable {
            let currency: String
            let vatRate: String
            let net: String
            let tax: String
            let gross: String
        }
        let month: String
        let previous: String
        let next: String
        let sellerId: String?
        let isAdmin: Bool
        let rows: [Row]
        let hasRows: Bool
        let totals: [Total]
        let invoices: Int
        let creditNotes: Int
        let csv: String
    }

    func register(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        guard let principal = context.principal else { return .redirect(to: "/signin?next=/admin/finance/register") }
        let register = try api.loadRegister(request, context)
        func money(_ amount: Int, _ currency: String) -> String { MoneyText.display(amount, currency) }
        var query = "month=\(register.month.text)"
        if let seller = register.sellerId, principal.role == .admin {
            query += "&sellerId=" + (seller.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        }
        return try context.page(
            "finance_register", title: "Register \(register.month.text)",
            RegisterPage(
                month: register.month.text, previous: register.month.previous.text, next: register.month.next.text,
                sellerId: principal.role == .admin ? register.sellerId : nil, isAdmin: principal.role == .admin,
                rows: register.documents.map {
                    RegisterPage.Row(
                        id: $0.id, number: $0.number, kind: $0.isCreditNote ? "Credit note" : "Invoice",
                        issueDate: $0.issueDate, corrects: $0.correctsNumber, buyer: $0.buyer.legalName,
                        buyerTaxId: $0.buyer.taxId, net: money($0.totals.net, $0.currency),
                        tax: money($0.totals.tax, $0.currency), gross: money($0.totals.gross, $0.currency))
                }, hasRows: !register.documents.isEmpty,
                totals: register.totals.map {
                    RegisterPage.Total(
                        currency: $0.currency, vatRate: VAT.percentText($0.vatRate), net: money($0.net, $0.currency),
                        tax: money($0.tax, $0.currency), gross: money($0.gross, $0.currency))
                }, invoices: register.documents.filter { !$0.isCreditNote }.count,
                creditNotes: register.documents.filter(\.isCreditNote).count,
                csv: "/api/finance/register.csv?" + query))
    }

    // MARK: VAT rate

    struct VATRatePage: Encodable {
        let concertId: String
        let concertName: String
        let rate: String
        let isDefault: Bool
        let defaultRate: String
        let errors: FormFields
        let notice: String?
    }

    func vatRate(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        try context.require(.organiser)
        return try vatRatePage(
            request.routeParameters["id"] ?? "", context: context,
            notice: request.query["done"] == "saved"
                ? "The VAT rate is saved; invoices issued from now on use it." : nil)
    }

    func setVATRate(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let concertId = request.routeParameters["id"] ?? ""
        let typed = request.form["vatRate"] ?? ""
        return try HTTPError.answering {
            let text = typed.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty, text.count <= 10, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                let percent = Decimal(string: text, locale: nil)
            else {
                throw FinanceError.invalid(field: "vatRate", message: "Write the rate as a number, like 8 or 5.5.")
            }
            let rate = try SetVATRate.basisPoints(fromPercent: percent)
            _ = try api.setRate(rate, of: concertId, by: principal, request: request, context: context)
            return .redirect(to: "/admin/concerts/\(concertId)/vat?done=saved")
        } withPage: { error in
            try vatRatePage(concertId, context: context, typed: typed, error: error)
        }
    }

    func vatRatePage(
        _ concertId: String, context: RequestContext, typed: String? = nil, error: HTTPError? = nil,
        notice: String? = nil
    ) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let (name, rate) = try context.database.with { connection in
            try api.requireManages(concertId, principal, on: connection)
            return (
                try api.finance.concerts.name(concertId, connection) ?? concertId,
                try VATRateCommands(connection: connection, store: api.store).rate(of: concertId)
            )
        }
        return try context.page(
            "concert_vat", title: "VAT rate",
            VATRatePage(
                concertId: concertId, concertName: name, rate: typed ?? "\(VAT.percent(rate.rate))",
                isDefault: rate.isDefault, defaultRate: VAT.percentText(VAT.defaultRate),
                errors: FormFields(error: error), notice: notice))
    }
}
