/// An aggregate the functional way (Emmett's decider): pure functions over plain values.
///
/// Time and new ids arrive inside the command, never from a global clock, so a decision is
/// repeatable and testable with `DeciderSpec`.
public protocol Decider {
    associatedtype State
    associatedtype Command
    associatedtype Event

    /// The state before the stream's first event.
    static var initial: State { get }
    /// The state after one more event.
    static func evolve(_ state: State, _ event: Event) -> State
    /// The events a command causes in a state; throws the business rule it breaks.
    static func decide(_ command: Command, _ state: State) throws -> [Event]
}

extension Decider {
    /// The state after `events`, from `initial` or from `state`.
    public static func fold(_ events: [Event], from state: State = initial) -> State {
        events.reduce(state, evolve)
    }
}
