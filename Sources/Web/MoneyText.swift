/// Money as pages show it: integer minor units of a currency with two decimal places
/// ("450.00 PLN"), as every currency Encore sells in has.
public enum MoneyText {
    /// "450.00 PLN"; "-12.50 EUR" for a negative amount.
    public static func display(_ amount: Int, _ currency: String) -> String {
        "\(majorUnits(amount, alwaysCents: true)) \(currency)"
    }

    /// "450" or "450.50": what an organiser types into a price field.
    public static func majorUnits(_ amount: Int, alwaysCents: Bool = false) -> String {
        let sign = amount < 0 ? "-" : ""
        let magnitude = amount.magnitude
        let cents = magnitude % 100
        if cents == 0 && !alwaysCents { return "\(sign)\(magnitude / 100)" }
        return "\(sign)\(magnitude / 100).\(cents < 10 ? "0" : "")\(cents)"
    }
}
