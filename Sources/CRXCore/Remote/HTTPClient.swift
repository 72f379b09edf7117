import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A synchronous HTTP/1.1 client over URLSession (FoundationNetworking on Linux), shared by the
/// HTTP and S3 remotes. One request at a time per call; callers run calls on several threads.
/// Connection-level failures, timeouts, HTTP 5xx and 429 come back as `RemoteError.transient`.
public final class HTTPClient: @unchecked Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data

        public func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }
    }

    let session: URLSession
    let remote: String

    public init(remote: String, timeout: TimeInterval = 60) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpMaximumConnectionsPerHost = 64
        configuration.urlCache = nil
        session = URLSession(configuration: configuration)
        self.remote = remote
        self.timeout = timeout
    }

    deinit { session.finishTasksAndInvalidate() }

    private final class Box: @unchecked Sendable {
        var data: Data?
        var response: URLResponse?
        var error: Error?
    }

    private let plain = Protected<[String: SocketHTTP]>([:])
    let timeout: TimeInterval

    /// Sends a request; returns whatever status the server answered (transport failures throw).
    /// `http://` goes through `SocketHTTP`; `https://` through URLSession.
    /// `bodyFile`: the body is that file (streamed over http://); `saveTo`: a 2xx body goes to that file.
    public func send(_ request: URLRequest, bodyFile: String? = nil, saveTo: String? = nil) throws -> Response {
        if let url = request.url, url.scheme == "http", let host = url.host,
           let components = URLComponents(url: url, resolvingAgainstBaseURL: false) {
            let port = url.port ?? 80
            let client = plain.withLock { clients -> SocketHTTP in
                if let c = clients["\(host):\(port)"] { return c }
                let c = SocketHTTP(host: host, port: port, timeout: timeout)
                clients["\(host):\(port)"] = c
                return c
            }
            var target = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
            if let q = components.percentEncodedQuery { target += "?" + q }
            let response: Response
            do {
                response = try client.send(method: request.httpMethod ?? "GET", target: target,
                                           headers: request.allHTTPHeaderFields ?? [:], body: request.httpBody,
                                           bodyFile: bodyFile, saveTo: saveTo)
            } catch let error as SocketHTTP.TransportError {
                throw RemoteError.transient(remote: remote, detail: error.detail)
            }
            if response.status >= 500 || response.status == 429 {
                throw RemoteError.transient(remote: remote, detail: "HTTP \(response.status)")
            }
            return response
        }
        var request = request
        if let bodyFile {
            guard let data = FileManager.default.contents(atPath: bodyFile) else { throw IOError("read", path: bodyFile, errno: errno) }
            request.httpBody = data
        }
        let response = try sendWithURLSession(request)
        if let saveTo, (200 ..< 300).contains(response.status) { try writeBody(response.body, to: saveTo) }
        return response
    }

    private func sendWithURLSession(_ request: URLRequest) throws -> Response {
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: request) { data, response, error in
            box.data = data
            box.response = response
            box.error = error
            done.signal()
        }
        task.resume()
        // FoundationNetworking on Linux never completes a 401 carrying WWW-Authenticate: bound the wait.
        if done.wait(timeout: .now() + timeout + 10) == .timedOut {
            task.cancel()
            throw RemoteError.transient(remote: remote, detail: "no answer within \(Int(timeout + 10)) s"
                + " (over https a refused password can look like this: check the credentials)")
        }
        if let error = box.error {
            throw RemoteError.transient(remote: remote, detail: error.localizedDescription)
        }
        guard let http = box.response as? HTTPURLResponse else {
            throw RemoteError.transient(remote: remote, detail: "no HTTP response")
        }
        var headers: [String: String] = [:]
        for (k, v) in http.allHeaderFields { headers["\(k)"] = "\(v)" }
        let response = Response(status: http.statusCode, headers: headers, body: box.data ?? Data())
        if http.statusCode >= 500 || http.statusCode == 429 {
            throw RemoteError.transient(remote: remote, detail: "HTTP \(http.statusCode)")
        }
        return response
    }
}

/// Writes a downloaded body to a file (created or truncated).
func writeBody(_ data: Data, to path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: data) else {
        throw IOError("write download", path: path, errno: errno)
    }
}
