import CCurl

/// Why a request got no complete HTTP response.
///
/// The messages are libcurl's, which name the host and port but never a header, so they
/// carry no API key.
public enum HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection: the name did not resolve, or nothing accepted the connection.
    /// Nothing reached the server.
    case couldNotConnect(String)
    /// The connect timeout or the total timeout ran out; the server may or may not have
    /// received (and acted on) the request.
    case timedOut(String)
    /// The TLS handshake failed (certificate, protocol).
    case tls(String)
    /// The response body was larger than the client's `maximumResponseSize`.
    case tooLarge(limit: Int)
    /// Anything else libcurl reports (a connection reset, a malformed response, a bad URL).
    case other(String)

    public var description: String {
        switch self {
        case .couldNotConnect(let message): "could not connect: \(message)"
        case .timedOut(let message): "timed out: \(message)"
        case .tls(let message): "TLS failure: \(message)"
        case .tooLarge(let limit): "response larger than \(limit) bytes"
        case .other(let message): "HTTP transfer failed: \(message)"
        }
    }

    /// The one place that turns a libcurl status into a typed error. `detail` is the
    /// handle's error buffer (may be empty); `exceededLimit` is set when our own write
    /// callback stopped the transfer because the body grew past the limit.
    static func from(_ code: CURLcode, detail: String, limit: Int, exceededLimit: Bool) -> HTTPClientError {
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        if exceededLimit { return .tooLarge(limit: limit) }
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .couldNotConnect(message)
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut(message)
        case CURLE_FILESIZE_EXCEEDED:
            return .tooLarge(limit: limit)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
            CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT:
            return .tls(message)
        default:
            return .other(message)
        }
    }
}
