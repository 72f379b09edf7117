import CRXCore
import Foundation
import Testing

@Suite struct RemoteTests {
    /// AWS's published SigV4 example (S3 GET Object, "Signature Calculations for the Authorization Header").
    @Test func sigV4MatchesAWSExample() {
        let signer = SigV4(credentials: AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                                       secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                                       sessionToken: nil), region: "us-east-1")
        let headers = signer.headers(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt", query: [],
                                     payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                     extra: ["Range": "bytes=0-9"], now: Date(timeIntervalSince1970: 1_369_353_600))
        #expect(headers["Authorization"] == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers["x-amz-date"] == "20130524T000000Z")
    }

    @Test func canonicalQueryIsSortedAndEncoded() {
        #expect(SigV4.canonicalQuery([("prefix", "a/b c"), ("list-type", "2"), ("uploads", "")]) == "list-type=2&prefix=a%2Fb%20c&uploads=")
    }

    @Test func configRoundTripsAndLocalOverrides() throws {
        let text = "[core]\n\tremote = s\n[remote \"s\"]\n\turl = s3://b/p\n\tregion = eu-west-1\n"
        let config = try RemoteConfig.parse(text, file: "config")
        #expect(config.defaultRemote == "s")
        #expect(config.remotes["s"] == ["url": "s3://b/p", "region": "eu-west-1"])
        #expect(try RemoteConfig.parse(config.render(), file: "x") == config)
        #expect(throws: RemoteConfigError.self) { try RemoteConfig.validate(key: "password", value: "x") }
        #expect(throws: RemoteConfigError.self) { try RemoteConfig.validate(key: "colour", value: "x") }
        #expect(try config.choose(nil).name == "s")
    }

    @Test func credentialsFromProfileFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crx-aws-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("credentials").path
        try "[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n[ci]\naws_access_key_id = A2\naws_secret_access_key = S2\naws_session_token = T2\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let env = ["AWS_SHARED_CREDENTIALS_FILE": file]
        #expect(try AWSCredentials.resolve(profile: nil, environment: env).accessKeyID == "A1")
        let ci = try AWSCredentials.resolve(profile: "ci", environment: env)
        #expect(ci.accessKeyID == "A2" && ci.sessionToken == "T2")
        #expect(!"\(ci)".contains("S2"))
        #expect(try AWSCredentials.resolve(profile: nil, environment: env.merging(["AWS_ACCESS_KEY_ID": "E", "AWS_SECRET_ACCESS_KEY": "F"]) { $1 }).accessKeyID == "E")
    }

    @Test func downloadedObjectsAreVerifiedBeforeAdoption() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crx-adopt-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = LocalObjectStore(directory: dir + "/a")
        let target = LocalObjectStore(directory: dir + "/b")
        let d = try source.insert(bytes: Array("hello".utf8))
        let other = try source.insert(bytes: Array("other".utf8))
        let temp = try target.temporaryPath()
        try FileManager.default.copyItem(atPath: source.objectPath(other), toPath: temp)
        #expect(try target.adopt(temp, as: d) != nil)
        #expect(!target.contains(d) && !FileManager.default.fileExists(atPath: temp))
        let temp2 = try target.temporaryPath()
        try FileManager.default.copyItem(atPath: source.objectPath(d), toPath: temp2)
        #expect(try target.adopt(temp2, as: d) == nil)
        #expect(try target.read(d) == Array("hello".utf8))
    }

    /// `repro --pull` hands its fetcher the build's barrier: downloads wait for it (the lock may
    /// record them) instead of being fsynced one by one; a fetcher without one defers nothing.
    @Test func aFetcherHandedABarrierDefersItsDownloads() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crx-fetch-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = LocalObjectStore(directory: dir + "/a")
        let remote = DirectoryRemote(path: dir + "/remote")
        let entries = try ["one", "two"].map { text in
            let bytes = Array(text.utf8)
            return Lockfile.Entry(path: text, hash: PathDigest(digest: try source.insert(bytes: bytes), size: Int64(bytes.count)))
        }
        for e in entries { try remote.upload(file: source.objectPath(e.hash.digest), to: RemoteLayout.object(e.hash.digest)) }
        let target = LocalObjectStore(directory: dir + "/b")
        let fetcher = RemoteFetcher(sync: RemoteSync(store: target, runCache: RunCache(directory: dir + "/runcache"), remote: remote, jobs: 2))
        let barrier = DurabilityBarrier()
        try fetcher.deferring(to: barrier).fetch([entries[0]])
        #expect(barrier.pendingCount == 1 && target.contains(entries[0].hash.digest))
        try fetcher.fetch([entries[1]])
        #expect(barrier.pendingCount == 1 && target.verify(entries[1].hash.digest) == .ok)
        try barrier.sync()
    }

    /// Content of exactly n × 128 KiB (zstd's stream output size) of incompressible bytes reads back.
    @Test func objectsOfExactBlockMultiplesDecode() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crx-zstd-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = LocalObjectStore(directory: dir)
        for size in [131_072, 262_144, 262_145] {
            let bytes = (0 ..< size).map { _ in UInt8.random(in: 0 ... 255) }
            let d = try store.insert(bytes: bytes)
            #expect(store.verify(d) == .ok, "size \(size)")
            #expect(try store.read(d) == bytes)
        }
    }
}
