/// Given/When/Then for deciders, for any test framework: a failed expectation throws a
/// `DeciderSpecFailure` describing the difference, which fails a swift-testing test.
///
/// ```swift
/// @Test func rejectsWhenSoldOut() throws {
///     try DeciderSpec<Reservation>.given([.levelAdded(...)]).when(.reserve(...)).thenThrows(ReservationError.soldOut)
/// }
/// ```
public enum DeciderSpec<D: Decider> {
    /// The stream's past events.
    public static func given(_ events: [D.Event]) -> Given { Given(events: events) }

    public struct Given {
        let events: [D.Event]

        /// The command to decide on the state the given events produce.
        public func when(_ command: D.Command) -> When {
            When(state: D.fold(events), command: command)
        }
    }

    public struct When {
        let state: D.State
        let command: D.Command

        /// Expects exactly these events, in order.
        public func then(_ expected: [D.Event]) throws where D.Event: Equatable {
            let actual: [D.Event]
            do {
                actual = try D.decide(command, state)
            } catch {
                throw DeciderSpecFailure("expected events \(expected), but decide threw \(error)")
            }
            guard actual == expected else {
                throw DeciderSpecFailure("expected events \(expected), but got \(actual)")
            }
        }

        /// Expects this error.
        public func thenThrows<E: Error & Equatable>(_ expected: E) throws {
            try thenThrows { ($0 as? E) == expected }
        }

        /// Expects an error that `matches` accepts.
        public func thenThrows(where matches: (Error) -> Bool) throws {
            let events: [D.Event]
            do {
                events = try D.decide(command, state)
            } catch {
                guard matches(error) else { throw DeciderSpecFailure("decide threw an unexpected error: \(error)") }
                return
            }
            throw DeciderSpecFailure("expected an error, but decide returned \(events)")
        }

        /// The state after the decided events, for assertions of its own.
        public func thenState() throws -> D.State {
            D.fold(try D.decide(command, state), from: state)
        }
    }
}

/// A Given/When/Then expectation that did not hold.
public struct DeciderSpecFailure: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
