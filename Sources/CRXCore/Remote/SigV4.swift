import Foundation

/// AWS Signature Version 4 for S3 requests: canonical request → string to sign → HMAC-SHA256 chain
/// of the secret over date, region and service. Pure: the clock comes in as a value.
public struct SigV4: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service = "s3"

    public init(credentials: AWSCredentials, region: String) {
        self.credentials = credentials
        self.region = region
    }

    static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

    /// RFC 3986 percent-encoding as AWS wants it (`/` kept when `keepSlash`).
    public static func encode(_ s: String, keepSlash: Bool = false) -> String {
        var out = ""
        for b in s.utf8 {
            if unreserved.contains(b) || (keepSlash && b == UInt8(ascii: "/")) {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    public static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// The headers to add to a request: `x-amz-date`, `x-amz-content-sha256`, `Authorization`
    /// (and `x-amz-security-token`). `path` is already encoded; `host` includes a non-default port.
    public func headers(method: String, host: String, path: String, query: [(String, String)],
                        payloadHash: String, extra: [String: String] = [:], now: Date = Date()) -> [String: String] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let amzDate = formatter.string(from: now)
        let day = String(amzDate.prefix(8))
        var signed: [String: String] = ["host": host, "x-amz-date": amzDate, "x-amz-content-sha256": payloadHash]
        if let token = credentials.sessionToken { signed["x-amz-security-token"] = token }
        for (k, v) in extra { signed[k.lowercased()] = v }
        let names = signed.keys.sorted()
        var canonicalHeaders = ""
        for name in names { canonicalHeaders += name + ":" + signed[name]!.trimmingCharacters(in: .whitespaces) + "\n" }
        let signedHeaders = names.joined(separator: ";")
        let canonicalQuery = Self.canonicalQuery(query)
        let requestParts: [String] = [method, path, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash]
        let canonicalRequest: String = requestParts.joined(separator: "\n")
        let scope: String = day + "/" + region + "/" + service + "/aws4_request"
        let requestHash: String = Self.hex(HMACSHA256.sha256(Array(canonicalRequest.utf8)))
        let signParts: [String] = ["AWS4-HMAC-SHA256", amzDate, scope, requestHash]
        let stringToSign: String = signParts.joined(separator: "\n")
        var key = HMACSHA256.mac(key: Array("AWS4\(credentials.secretAccessKey)".utf8), message: Array(day.utf8))
        for part in [region, service, "aws4_request"] { key = HMACSHA256.mac(key: key, message: Array(part.utf8)) }
        let signature = Self.hex(HMACSHA256.mac(key: key, message: Array(stringToSign.utf8)))
        var result = signed
        result["host"] = nil
        let authorization: String = "AWS4-HMAC-SHA256 Credential=" + credentials.accessKeyID + "/" + scope
            + ", SignedHeaders=" + signedHeaders + ", Signature=" + signature
        result["Authorization"] = authorization
        return result
    }

    public static func canonicalQuery(_ query: [(String, String)]) -> String {
        var pairs: [(String, String)] = []
        for (k, v) in query { pairs.append((encode(k), encode(v))) }
        pairs.sort { (a: (String, String), b: (String, String)) -> Bool in a.0 == b.0 ? a.1 < b.1 : a.0 < b.0 }
        var parts: [String] = []
        for (k, v) in pairs { parts.append(k + "=" + v) }
        return parts.joined(separator: "&")
    }
}
