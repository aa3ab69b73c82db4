import Postgres

/// The ShoppingCarts context's table outside the log (versions 300-399).
///
/// `open_carts` guards "one open cart per user": its row is inserted with `CartOpened` and
/// deleted with `CartConfirmed` or `CartCancelled`, in the same transactions, so two requests
/// that both open a first cart cannot both succeed.
public enum ShoppingCartsSchema {
    public static let migrations: [Migration] = [
        Migration(
            version: 300, name: "shopping carts: one open cart per user",
            sql: """
                CREATE TABLE open_carts (
                    user_id text PRIMARY KEY,
                    cart_id text NOT NULL UNIQUE
                );
                """)
    ]
}
