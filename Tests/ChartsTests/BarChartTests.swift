import Foundation
import Testing

@testable import Charts

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The SVG bar chart: well-formed XML, named and described for screen readers, bars as tall
/// as their figures, organisers' names escaped.
@Suite struct BarChartTests {
    /// Elements of an SVG, with their attributes and text, as an XML parser reads them.
    final class Elements: NSObject, XMLParserDelegate {
        var found: [(name: String, attributes: [String: String], text: String)] = []
        var open: [Int] = []

        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            open.append(found.count)
            found.append((name, attributes, ""))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if let last = open.last { found[last].text += string }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            open.removeLast()
        }

        static func of(_ svg: String) throws -> Elements {
            let parser = XMLParser(data: Data(svg.utf8))
            let elements = Elements()
            parser.delegate = elements
            #expect(parser.parse(), "not well-formed: \(String(describing: parser.parserError))")
            return elements
        }

        func named(_ name: String) -> [(name: String, attributes: [String: String], text: String)] {
            found.filter { $0.name == name }
        }
    }

    static let chart = BarChart(
        id: "t", title: "Tickets sold per day", summary: "Floor 6, <Balcony> & Co 1.",
        categories: ["3 Mar", "4 Mar", "5 Mar"], categoryNames: ["Tue 3 Mar 2026", "Wed 4 Mar 2026", "Thu 5 Mar 2026"],
        series: [
            .init(name: "Floor", up: [2, 0, 4], down: [0, 1, 0]),
            .init(name: "<Balcony> & Co", up: [1, 0, 0], down: [0, 0, 0]),
        ], valueTitle: "Tickets", upWord: "sold", downWord: "refunded")

    @Test func isWellFormedAndNamedForScreenReaders() throws {
        let elements = try Elements.of(Self.chart.svg)
        let svg = try #require(elements.found.first)
        #expect(svg.name == "svg" && svg.attributes["role"] == "img")
        #expect(svg.attributes["aria-labelledby"] == "t-title t-desc")
        #expect(elements.named("title").first?.attributes["id"] == "t-title")
        #expect(elements.named("title").first?.text == "Tickets sold per day")
        #expect(elements.named("desc").first?.text == "Floor 6, <Balcony> & Co 1.")
        #expect(!Self.chart.svg.contains("<Balcony>"), "escaped")
        #expect(elements.named("script").isEmpty && elements.named("style").isEmpty)
        #expect(!Self.chart.svg.contains("style="), "the CSP allows no inline styles")
    }

    @Test func barsAreAsTallAsTheirFiguresAndRefundsHangBelowTheLine() throws {
        let elements = try Elements.of(Self.chart.svg)
        // Bars carry a tooltip; legend swatches do not.
        let tips = elements.named("title").dropFirst().map(\.text)
        #expect(
            tips == [
                "Tue 3 Mar 2026, Floor: 2 sold", "Tue 3 Mar 2026, <Balcony> & Co: 1 sold",
                "Wed 4 Mar 2026, Floor: 1 refunded", "Thu 5 Mar 2026, Floor: 4 sold",
            ])
        let bars = elements.named("rect").filter { $0.attributes["fill-opacity"] != nil }
        #expect(bars.count == 4)
        let heights = bars.map { Double($0.attributes["height"]!)! }
        #expect(abs(heights[3] - 2 * heights[0]) < 0.2)
        #expect(abs(heights[0] - 2 * heights[1]) < 0.2)
        #expect(abs(heights[2] - heights[1]) < 0.2)
        let y = bars.map { Double($0.attributes["y"]!)! }
        #expect(y[2] >= y[0] + heights[0] - 0.2, "the refund starts at the zero line, under the day's sales")
        #expect(bars[2].attributes["fill-opacity"] == "0.45")
        let legend = elements.found.filter { $0.name == "text" }.map(\.text)
        #expect(legend.contains("Floor") && legend.contains("<Balcony> & Co") && legend.contains("Tickets"))
        #expect(legend.contains("Paler bars below the zero line: refunded."))
        #expect(legend.contains("3 Mar") && legend.contains("5 Mar"))
    }

    @Test func manyDaysKeepTheirBarsButLabelOnlySome() throws {
        let days = (1...90).map { "\($0)" }
        let chart = BarChart(
            id: "m", title: "t", summary: "s", categories: days, categoryNames: days,
            series: [.init(name: "Floor", up: Array(repeating: 1, count: 90), down: Array(repeating: 0, count: 90))],
            valueTitle: "Tickets", upWord: "sold", downWord: "refunded")
        let elements = try Elements.of(chart.svg)
        #expect(elements.named("rect").count == 90 + 1)
        let labels = elements.named("text").map(\.text).filter { Int($0) != nil && days.contains($0) }
        #expect(labels.count < 20 && labels.first == "1")
    }

    @Test func ticksAreOneTwoOrFiveTimesAPowerOfTen() {
        #expect(ValueScale.niceStep(atLeast: 1) == 1)
        #expect(ValueScale.niceStep(atLeast: 3) == 5)
        #expect(ValueScale.niceStep(atLeast: 11) == 20)
        #expect(ValueScale.niceStep(atLeast: 45_001) == 50_000)
        let scale = ValueScale(up: 7, down: 1)
        #expect(scale.step == 2 && scale.top == 8 && scale.bottom == 2)
        #expect(scale.ticks == [-2, 0, 2, 4, 6, 8])
        #expect(ValueScale(up: 0, down: 0).ticks == [0, 1])
    }

    @Test func coordinatesAreWrittenToATenth() {
        #expect(SVGWriter.number(12) == "12")
        #expect(SVGWriter.number(12.46) == "12.5")
        #expect(SVGWriter.number(-0.25) == "-0.3" || SVGWriter.number(-0.25) == "-0.2")
        #expect(SVGWriter.escape("a\u{1}b<") == "ab&lt;")
    }
}
