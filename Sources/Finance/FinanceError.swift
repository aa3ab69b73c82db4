/// A business rule of the Finance context that a command broke, or a finance document that
/// cannot be had.
public enum FinanceError: Error, Equatable, Sendable {
    /// A field is wrong, named as the API spells it (`legalName`, `address.country`, `taxId`).
    case invalid(field: String, message: String)
    /// The user keeps no financial details yet.
    case noFinancialInfo
    /// Financial details exist already: they are updated, not created again.
    case financialInfoExists
    /// No such invoice or credit note, or not one the caller may see.
    case unknownDocument
    /// No such concert, or not one the caller manages.
    case unknownConcert
    /// The order has an invoice already, made from other facts.
    case invoiceExists
    /// A credit note needs its invoice, issued.
    case invoiceNotIssued
    /// A credit note for more than what is left of the invoice (its gross, less earlier credit notes).
    case nothingToCredit(left: Int)
    /// The PDF could not be made now (the renderer is missing, busy or failed).
    case pdfUnavailable(String)
}

/// A document's number was asked for outside a transaction: a mistake in the code (the
/// number must be taken in the transaction that appends the document), never the user's.
public struct NumberOutsideTransaction: Error, Sendable {}
