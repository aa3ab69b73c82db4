import Testing

@testable import FastCGI

@Suite struct ParamsGuardTests {
    func record(_ type: UInt8, _ content: [UInt8]) -> [UInt8] {
        [1, type, 0, 1, UInt8(content.count >> 8), UInt8(content.count & 0xff), 0, 0] + content
    }

    let begin: [UInt8] = [1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]

    func pair(_ name: String, _ value: String) -> [UInt8] {
        [UInt8(name.utf8.count), UInt8(value.utf8.count)] + Array(name.utf8) + Array(value.utf8)
    }

    @Test func acceptsOrdinaryParameters() {
        let bytes = begin + record(4, pair("REQUEST_METHOD", "GET") + pair("REQUEST_URI", "/")) + record(4, [])
        #expect(ParamsGuard.check(bytes[...]) == .ok)
    }

    @Test func waitsForParametersStillOnTheirWay() {
        let bytes = begin + record(4, pair("REQUEST_METHOD", "GET"))
        #expect(ParamsGuard.check(bytes[...]) == .needMore)
    }

    @Test func refusesGigabyteLengths() {
        let huge: [UInt8] = [0xc0, 0, 0, 0, 0xc0, 0, 0, 0] + Array(repeating: 0x61, count: 64)
        let bytes = begin + record(4, huge) + record(4, [])
        guard case .reject = ParamsGuard.check(bytes[...]) else {
            Issue.record("expected a rejection")
            return
        }
    }

    @Test func seesLengthsSplitAcrossRecords() {
        let bytes = begin + record(4, [0xc0, 0]) + record(4, [0, 0, 0x81, 0, 0, 0]) + record(4, [])
        guard case .reject = ParamsGuard.check(bytes[...]) else {
            Issue.record("expected a rejection")
            return
        }
    }
}
