/// A bar chart drawn on the server as inline SVG: stacked bars per category (a day), one colour
/// per series (a ticket level), what was added above the zero line and what was taken back
/// (refunds) below it, with a value axis, category labels, axis titles and a legend.
///
/// It needs no JavaScript and no style sheet (the page's CSP allows neither inline styles nor
/// scripts): colours are presentation attributes, text and axes take `currentColor`, so the
/// chart follows the page's light or dark scheme and prints in black. The SVG is an image to
/// assistive technology (`role="img"`), named by its `<title>` and described by its `<desc>`;
/// each bar also has a `<title>` (a tooltip). A page shows the same figures in a table.
public struct BarChart: Sendable {
    /// One stacked part of every bar: a ticket level's figures per category.
    public struct Series: Sendable, Equatable {
        public let name: String
        /// Per category, drawn above the zero line (sold).
        public let up: [Int]
        /// Per category, drawn below it (refunded); nonnegative.
        public let down: [Int]

        public init(name: String, up: [Int], down: [Int]) {
            precondition(up.count == down.count, "one figure per category each way")
            self.name = name
            self.up = up
            self.down = down
        }
    }

    /// Prefix of the ids inside the SVG (its title and description), unique on the page.
    public let id: String
    public let title: String
    /// What the chart shows, in a sentence or two, for screen readers (`<desc>`).
    public let summary: String
    /// The categories' labels under the bars ("3 Mar"), and their full names for tooltips.
    public let categories: [String]
    public let categoryNames: [String]
    public let series: [Series]
    /// The value axis's title ("Tickets", "PLN") and what each way means ("sold", "refunded").
    public let valueTitle: String
    public let upWord: String
    public let downWord: String
    /// How a value is written on the axis and in tooltips.
    public let format: @Sendable (Int) -> String

    public init(
        id: String, title: String, summary: String, categories: [String], categoryNames: [String],
        series: [Series], valueTitle: String, upWord: String, downWord: String,
        format: @escaping @Sendable (Int) -> String = { String($0) }
    ) {
        precondition(categories.count == categoryNames.count, "a full name per category")
        precondition(series.allSatisfy { $0.up.count == categories.count }, "a figure per category")
        self.id = id
        self.title = title
        self.summary = summary
        self.categories = categories
        self.categoryNames = categoryNames
        self.series = series
        self.valueTitle = valueTitle
        self.upWord = upWord
        self.downWord = downWord
        self.format = format
    }

    /// Distinct in hue and in lightness (so that they stay apart printed in grey), readable on
    /// a light and a dark background.
    public static let palette = [
        "#6d28d9", "#f59e0b", "#0f766e", "#db2777", "#2563eb", "#65a30d", "#9a3412", "#64748b",
    ]

    static let width = 760.0
    static let plotTop = 16.0
    static let plotHeight = 220.0
    static let left = 64.0
    static let right = 16.0

    /// The chart as an `<svg>` element.
    public var svg: String {
        let scale = ValueScale(
            up: (0..<categories.count).map { index in series.reduce(0) { $0 + max(0, $1.up[index]) } }.max() ?? 0,
            down: (0..<categories.count).map { index in series.reduce(0) { $0 + max(0, $1.down[index]) } }.max() ?? 0)
        let legend = Legend(names: series.map(\.name), width: Self.width - Self.left - Self.right)
        let axisBottom = Self.plotTop + Self.plotHeight
        let legendTop = axisBottom + 44
        let height = legendTop + legend.height + 8
        var out = SVGWriter()
        out.open(
            "svg",
            [
                ("xmlns", "http://www.w3.org/2000/svg"), ("class", "chart"), ("role", "img"),
                ("viewBox", "0 0 \(SVGWriter.number(Self.width)) \(SVGWriter.number(height))"),
                ("width", SVGWriter.number(Self.width)), ("height", SVGWriter.number(height)),
                ("aria-labelledby", "\(id)-title \(id)-desc"), ("font-family", "system-ui, sans-serif"),
                ("font-size", "12"),
            ])
        out.element("title", [("id", "\(id)-title")], text: title)
        out.element("desc", [("id", "\(id)-desc")], text: summary)
        drawValueAxis(scale, into: &out)
        drawBars(scale, into: &out)
        drawCategoryAxis(scale, into: &out)
        let anyDown = series.contains { $0.down.contains { $0 > 0 } }
        legend.draw(
            at: legendTop, left: Self.left, palette: Self.palette, note: anyDown ? downWord : nil, into: &out)
        out.close("svg")
        return out.text
    }

    var plotWidth: Double { Self.width - Self.left - Self.right }

    func drawValueAxis(_ scale: ValueScale, into out: inout SVGWriter) {
        out.open("g", [("fill", "currentColor"), ("text-anchor", "end")])
        for tick in scale.ticks {
            let y = Self.plotTop + scale.offset(tick, height: Self.plotHeight)
            out.element(
                "line",
                [
                    ("x1", SVGWriter.number(Self.left)), ("x2", SVGWriter.number(Self.width - Self.right)),
                    ("y1", SVGWriter.number(y)), ("y2", SVGWriter.number(y)), ("stroke", "currentColor"),
                    ("stroke-opacity", tick == 0 ? "0.8" : "0.15"),
                ])
            out.element(
                "text", [("x", SVGWriter.number(Self.left - 6)), ("y", SVGWriter.number(y + 4))],
                text: tick < 0 ? "−" + format(-tick) : format(tick))
        }
        let middle = Self.plotTop + Self.plotHeight / 2
        out.element(
            "text",
            [
                ("x", "14"), ("y", SVGWriter.number(middle)), ("text-anchor", "middle"),
                ("transform", "rotate(-90 14 \(SVGWriter.number(middle)))"),
            ], text: valueTitle)
        out.close("g")
    }

    func drawBars(_ scale: ValueScale, into out: inout SVGWriter) {
        guard !categories.isEmpty else { return }
        let band = plotWidth / Double(categories.count)
        let barWidth = min(max(1, band * 0.7), 56)  // a day or two alone are bars, not walls
        out.open("g", [])
        for index in categories.indices {
            let x = Self.left + band * Double(index) + (band - barWidth) / 2
            var above = 0
            var below = 0
            for (number, serie) in series.enumerated() {
                let colour = Self.palette[number % Self.palette.count]
                for (value, up) in [(serie.up[index], true), (serie.down[index], false)] where value > 0 {
                    let start = up ? above : below
                    let y0 = scale.offset(up ? start + value : -start, height: Self.plotHeight)
                    let y1 = scale.offset(up ? start : -(start + value), height: Self.plotHeight)
                    out.open(
                        "rect",
                        [
                            ("x", SVGWriter.number(x)), ("y", SVGWriter.number(Self.plotTop + y0)),
                            ("width", SVGWriter.number(barWidth)), ("height", SVGWriter.number(max(0.5, y1 - y0))),
                            ("fill", colour), ("fill-opacity", up ? "1" : "0.45"), ("stroke", colour),
                        ])
                    out.element(
                        "title", [],
                        text: "\(categoryNames[index]), \(serie.name): \(format(value)) \(up ? upWord : downWord)")
                    out.close("rect")
                    if up { above += value } else { below += value }
                }
            }
        }
        out.close("g")
    }

    func drawCategoryAxis(_ scale: ValueScale, into out: inout SVGWriter) {
        guard !categories.isEmpty else { return }
        let band = plotWidth / Double(categories.count)
        let every = max(1, Int((48 / band).rounded(.up)))
        let baseline = Self.plotTop + Self.plotHeight
        out.open("g", [("fill", "currentColor"), ("text-anchor", "middle")])
        for index in categories.indices where index % every == 0 {
            let x = Self.left + band * (Double(index) + 0.5)
            out.element(
                "line",
                [
                    ("x1", SVGWriter.number(x)), ("x2", SVGWriter.number(x)), ("y1", SVGWriter.number(baseline)),
                    ("y2", SVGWriter.number(baseline + 4)), ("stroke", "currentColor"),
                ])
            out.element(
                "text", [("x", SVGWriter.number(x)), ("y", SVGWriter.number(baseline + 18))], text: categories[index])
        }
        out.close("g")
    }
}

/// The value axis: "nice" ticks (1, 2 or 5 times a power of ten) covering what is drawn
/// above the zero line and below it.
struct ValueScale: Equatable {
    let step: Int
    let top: Int
    let bottom: Int

    init(up: Int, down: Int) {
        let step = ValueScale.niceStep(atLeast: max(1, (up + down + 4) / 5))
        self.step = step
        top = max(step, (up + step - 1) / step * step)
        bottom = (down + step - 1) / step * step
    }

    /// The smallest of 1, 2, 5, 10, 20, 50... that is at least `value`.
    static func niceStep(atLeast value: Int) -> Int {
        var power = 1
        while true {
            for factor in [1, 2, 5] where factor * power >= value { return factor * power }
            guard power <= Int.max / 100 else { return power * 10 }
            power *= 10
        }
    }

    /// From `-bottom` to `top`, a step apart.
    var ticks: [Int] { Array(stride(from: -bottom, through: top, by: step)) }

    /// How far below the plot's top edge `value` lies, for a plot `height` tall.
    func offset(_ value: Int, height: Double) -> Double {
        height * Double(top - value) / Double(top + bottom)
    }
}

/// The legend under the chart: a swatch and a name per series, in rows, and a word on what
/// the paler bars below the line mean.
struct Legend {
    let items: [(name: String, x: Double, row: Int)]
    let rows: Int

    static let rowHeight = 20.0

    init(names: [String], width: Double) {
        var items: [(String, Double, Int)] = []
        var x = 0.0
        var row = 0
        for name in names {
            let itemWidth = 22 + 7 * Double(name.count) + 18
            if x > 0 && x + itemWidth > width {
                x = 0
                row += 1
            }
            items.append((name, x, row))
            x += itemWidth
        }
        self.items = items
        rows = row + 1
    }

    /// Its rows, and one for the note on what is below the line.
    var height: Double { Double(rows + 1) * Legend.rowHeight }

    /// `note`: what the paler bars below the line are ("refunded"), when there are any.
    func draw(at top: Double, left: Double, palette: [String], note: String?, into out: inout SVGWriter) {
        out.open("g", [("fill", "currentColor")])
        for (number, item) in items.enumerated() {
            let y = top + Double(item.row) * Legend.rowHeight
            out.element(
                "rect",
                [
                    ("x", SVGWriter.number(left + item.x)), ("y", SVGWriter.number(y)), ("width", "14"),
                    ("height", "14"), ("fill", palette[number % palette.count]),
                ])
            out.element(
                "text", [("x", SVGWriter.number(left + item.x + 20)), ("y", SVGWriter.number(y + 12))], text: item.name)
        }
        if let note {
            out.element(
                "text",
                [("x", SVGWriter.number(left)), ("y", SVGWriter.number(top + Double(rows) * Legend.rowHeight + 12))],
                text: "Paler bars below the zero line: \(note).")
        }
        out.close("g")
    }
}
