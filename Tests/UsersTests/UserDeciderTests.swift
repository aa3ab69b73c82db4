import EventStore
import Foundation
import Identity
import Testing

@testable import Users

/// Every rule of the `User` decider, as Given/When/Then.
@Suite struct UserDeciderTests {
    static let at = Date(timeIntervalSince1970: 1_780_000_000)
    static let later = at.addingTimeInterval(60)
    static let id = "0190a1b2-0000-7000-8000-000000000001"

    static var registered: User.Event {
        .registered(
            UserRegistered(userId: id, email: "ann@example.com", name: "Ann", role: .customer, registeredAt: at))
    }

    static func register(_ email: String = "ann@example.com", name: String = "Ann", role: Role = .customer) throws
        -> User.Command
    {
        .register(
            RegisterUser(userId: id, email: try EmailAddress(email), name: try PersonName(name), role: role, now: at))
    }

    // MARK: registering

    @Test func registersANewUserWithTheNormalisedAddress() throws {
        try DeciderSpec<User>.given([]).when(try Self.register(" Ann@Example.COM ")).then([Self.registered])
    }

    @Test func registrationKeepsTheGivenRole() throws {
        try DeciderSpec<User>.given([]).when(try Self.register(role: .admin)).then([
            .registered(
                UserRegistered(
                    userId: Self.id, email: "ann@example.com", name: "Ann", role: .admin, registeredAt: Self.at))
        ])
    }

    @Test func registeringTwiceIsRefused() throws {
        try DeciderSpec<User>.given([Self.registered]).when(try Self.register()).thenThrows(
            UserError.alreadyRegistered)
    }

    @Test func stateAfterRegistration() throws {
        let state = try DeciderSpec<User>.given([]).when(try Self.register(name: "  Ann Lee ")).thenState()
        #expect(state.isRegistered)
        #expect(state.id == Self.id)
        #expect(state.email == "ann@example.com")
        #expect(state.name == "Ann Lee")
        #expect(state.role == .customer)
    }

    // MARK: roles

    @Test func changingTheRoleOfAnUnregisteredUserIsRefused() throws {
        try DeciderSpec<User>.given([]).when(
            .changeRole(ChangeUserRole(role: .organiser, changedBy: "admin-1", now: Self.later))
        ).thenThrows(UserError.notRegistered)
    }

    @Test func settingTheSameRoleRecordsNothing() throws {
        try DeciderSpec<User>.given([Self.registered]).when(
            .changeRole(ChangeUserRole(role: .customer, changedBy: "admin-1", now: Self.later))
        ).then([])
    }

    @Test func aRoleChangeNamesWhoMadeItAndThePreviousRole() throws {
        try DeciderSpec<User>.given([Self.registered]).when(
            .changeRole(ChangeUserRole(role: .organiser, changedBy: "admin-1", now: Self.later))
        ).then([
            .roleChanged(
                UserRoleChanged(
                    userId: Self.id, role: .organiser, previousRole: .customer, changedBy: "admin-1",
                    changedAt: Self.later))
        ])
    }

    @Test func roleChangesFold() throws {
        let promoted = User.Event.roleChanged(
            UserRoleChanged(
                userId: Self.id, role: .admin, previousRole: .customer, changedBy: "admin-1", changedAt: Self.later))
        // Back to customer: the previous role is the one the events left.
        try DeciderSpec<User>.given([Self.registered, promoted]).when(
            .changeRole(ChangeUserRole(role: .customer, changedBy: "admin-2", now: Self.later))
        ).then([
            .roleChanged(
                UserRoleChanged(
                    userId: Self.id, role: .customer, previousRole: .admin, changedBy: "admin-2",
                    changedAt: Self.later))
        ])
        try DeciderSpec<User>.given([Self.registered, promoted]).when(
            .changeRole(ChangeUserRole(role: .admin, changedBy: "admin-2", now: Self.later))
        ).then([])
    }

    // MARK: passwords

    @Test func aPasswordChangeIsRecordedWithoutAnyHash() throws {
        try DeciderSpec<User>.given([Self.registered]).when(.changePassword(ChangeUserPassword(now: Self.later)))
            .then([.passwordChanged(UserPasswordChanged(userId: Self.id, changedAt: Self.later))])

        // What would be stored: only the user id and the time.
        let event = UserPasswordChanged(userId: Self.id, changedAt: Self.later)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as? [String: Any]
        #expect(Set(json?.keys.map { $0 } ?? []) == ["userId", "changedAt"])
    }

    @Test func changingThePasswordOfAnUnregisteredUserIsRefused() throws {
        try DeciderSpec<User>.given([]).when(.changePassword(ChangeUserPassword(now: Self.later))).thenThrows(
            UserError.notRegistered)
    }

    @Test func aPasswordChangeLeavesTheStateAlone() throws {
        let state = try DeciderSpec<User>.given([Self.registered]).when(
            .changePassword(ChangeUserPassword(now: Self.later))
        ).thenState()
        #expect(state == User.fold([Self.registered]))
    }

    // MARK: names

    @Test func aNameChange() throws {
        try DeciderSpec<User>.given([Self.registered]).when(
            .changeName(ChangeUserName(name: try PersonName("  Ann Smith "), now: Self.later))
        ).then([.nameChanged(UserNameChanged(userId: Self.id, name: "Ann Smith", changedAt: Self.later))])
    }

    @Test func theSameNameRecordsNothing() throws {
        try DeciderSpec<User>.given([Self.registered]).when(
            .changeName(ChangeUserName(name: try PersonName("Ann"), now: Self.later))
        ).then([])
    }

    @Test func renamingAnUnregisteredUserIsRefused() throws {
        try DeciderSpec<User>.given([]).when(
            .changeName(ChangeUserName(name: try PersonName("Ann"), now: Self.later))
        ).thenThrows(UserError.notRegistered)
    }

    @Test func theNewNameIsInTheState() throws {
        let state = try DeciderSpec<User>.given([Self.registered]).when(
            .changeName(ChangeUserName(name: try PersonName("Bea"), now: Self.later))
        ).thenState()
        #expect(state.name == "Bea")
        #expect(state.email == "ann@example.com")
    }

    // MARK: stored event names

    @Test func eventTypesRoundTripThroughTheirStoredNames() throws {
        let events: [User.Event] = [
            Self.registered,
            .roleChanged(
                UserRoleChanged(
                    userId: Self.id, role: .admin, previousRole: .customer, changedBy: "x", changedAt: Self.later)),
            .passwordChanged(UserPasswordChanged(userId: Self.id, changedAt: Self.later)),
            .nameChanged(UserNameChanged(userId: Self.id, name: "Bea", changedAt: Self.later)),
        ]
        let names = try events.map { try User.eventTypes.encode($0).type }
        #expect(names == ["UserRegistered", "UserRoleChanged", "UserPasswordChanged", "UserNameChanged"])
    }
}

/// The value types that check input before any command is made.
@Suite struct UserValueTests {
    func invalidField(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch UserError.invalid(let field, _) {
            return field
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func emailAddressesAreTrimmedAndLowerCased() throws {
        #expect(try EmailAddress(" Ann@Example.COM ").value == "ann@example.com")
        #expect(try EmailAddress("\tBOB@MAIL.Example.org\n").value == "bob@mail.example.org")
        #expect(try EmailAddress("Ann@Example.COM") == EmailAddress("ann@example.com"))
    }

    @Test(arguments: [
        "", "   ", "ann", "ann@", "@example.com", "ann@example", "ann@.example.com", "ann@example.com.",
        "ann@exa..mple.com", "a nn@example.com", "<ann@example.com>", "ann@example.com,bob@example.com",
        "ann@bob@example.com", String(repeating: "a", count: 65) + "@example.com",
        "ann@" + String(repeating: "a", count: 250) + ".com",
    ])
    func invalidEmailAddresses(_ raw: String) {
        #expect(invalidField { _ = try EmailAddress(raw) } == "email", "accepted \(raw.debugDescription)")
    }

    @Test func longestLocalPartIsAccepted() throws {
        let local = String(repeating: "a", count: 64)
        #expect(try EmailAddress(local + "@example.com").value == local + "@example.com")
    }

    @Test func personNamesAreTrimmed() throws {
        #expect(try PersonName("  Ann Lee  ").value == "Ann Lee")
        #expect(try PersonName(String(repeating: "é", count: 100)).value.count == 100)
    }

    @Test(arguments: ["", "   ", "\n\t", String(repeating: "x", count: 101), "Ann\u{0007}", "Ann\u{0000}Lee"])
    func invalidNames(_ raw: String) {
        #expect(invalidField { _ = try PersonName(raw) } == "name", "accepted \(raw.debugDescription)")
    }

    @Test func passwordsHave8To1024Characters() throws {
        #expect(invalidField { _ = try NewPassword("1234567") } == "password")
        #expect(invalidField { _ = try NewPassword("") } == "password")
        #expect(try NewPassword("12345678").value == "12345678")
        // Characters, not bytes: eight accented letters are eight characters.
        #expect(try NewPassword(String(repeating: "é", count: 8)).value.count == 8)
        // Spaces count and are kept: no trimming of passwords.
        #expect(try NewPassword("  pass  ").value == "  pass  ")
        #expect(try NewPassword(String(repeating: "p", count: 1024)).value.count == 1024)
        #expect(invalidField { _ = try NewPassword(String(repeating: "p", count: 1025)) } == "password")
    }

    @Test func aPasswordNeverPrintsItself() throws {
        let password = try NewPassword("correct horse battery")
        #expect("\(password)" == "<password>")
        #expect(String(reflecting: password) == "<password>")
        #expect(!"\([password])".contains("correct horse"))
    }
}

/// Where the sign-in form may send the browser afterwards: only paths of this site.
@Suite struct SafeNextTests {
    @Test(arguments: ["/account", "/concerts/abc?x=1&y=2", "/admin/users?q=a%20b", "/"])
    func localPathsAreKept(_ next: String) {
        #expect(UsersPages.safeNext(next) == next)
    }

    @Test(
        arguments: [
            nil, "", "account", "//evil.example", "/\\evil.example", "https://evil.example/", "/\t/evil.example",
            "/\n/evil.example", "/\r\n/evil.example", "/account\r\nSet-Cookie: x=1", "/ /evil.example",
            "/account\u{0000}", "/\u{00A0}/evil.example", "javascript:alert(1)",
        ] as [String?])
    func anythingElseGoesHome(_ next: String?) {
        #expect(UsersPages.safeNext(next) == "/", "kept \(String(describing: next).debugDescription)")
    }
}
