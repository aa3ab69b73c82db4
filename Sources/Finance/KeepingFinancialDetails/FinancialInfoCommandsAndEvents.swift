import EventStore
import Foundation

/// A user gives their financial details for the first time.
public struct CreateUserFinancialInfo: Sendable, Equatable {
    public let userId: String
    public let details: FinancialDetails
    public let now: Date

    public init(userId: String, details: FinancialDetails, now: Date) {
        self.userId = userId
        self.details = details
        self.now = now
    }
}

public struct UserFinancialInfoCreated: EventPayload, Equatable {
    public static let eventType = "UserFinancialInfoCreated"
    public let userId: String
    public let details: FinancialDetails
    public let createdAt: Date
}

/// A user changes their financial details; invoices issued before keep the old ones.
public struct UpdateUserFinancialInfo: Sendable, Equatable {
    public let details: FinancialDetails
    public let now: Date

    public init(details: FinancialDetails, now: Date) {
        self.details = details
        self.now = now
    }
}

public struct UserFinancialInfoUpdated: EventPayload, Equatable {
    public static let eventType = "UserFinancialInfoUpdated"
    public let userId: String
    public let details: FinancialDetails
    public let updatedAt: Date
}
