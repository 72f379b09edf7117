import Foundation
import Testing
@testable import CRXCore

@Suite struct JSONReportTests {
    /// Report-shaped values, with the keys and strings that are hard to order or escape.
    static var samples: [Any] {
        let awkwardKeys = ["f2", "f10", "F1", "f1", "_a", "a-b", "a.b", "a/b", "A", "a", "b", "B2", "é", "z", "Z", "10", "9",
                           "stages/s00010/out.txt", "stages/s00009/out.txt", "stages/s9/out.txt", "x y", "x_y", "x-y", ""]
        var awkward: [String: Any] = [:]
        for (i, k) in awkwardKeys.enumerated() { awkward[k] = i }
        let strings: [Any] = ["plain", "with \"quotes\" and \\ backslash", "a/b/c", "tab\tnew\nline\rret", "\u{8}\u{c}\u{0}\u{1f}\u{1b}",
                              "ünïcødé ✓ 🚀", "", " "]
        let numbers: [Any] = [0, -1, 42, Int.max, Int64(-7), Int32(3), 0.1, 1e-05, 1.0, 2.5, -0.0, 1e20, 123456789.125, 0.001,
                              true, false, NSNull()]
        let run: [String: Any] = ["run_id": "a1b2", "stage": "train", "cmd": ["python train.py", "echo done"], "wdir": ".",
                                  "started_at": "2026-11-22T09:30:00Z", "duration_s": 0.012, "exit_code": 0,
                                  "produced_by": "ran", "original_run_id": NSNull(), "lock_entry": "ff00", "executor": "local"]
        let index: [String: Any] = Dictionary(uniqueKeysWithValues: (0 ..< 50).map { ("s\($0)", ["run_id": "r\($0)", "lock_entry": "e\($0)"]) })
        return [
            run, index, awkward,
            ["strings": strings, "numbers": numbers],
            ["empty": [String: Any](), "emptyList": [Any](), "nested": [[Any](), [String: Any](), [[Any]()]], "deep": ["a": ["b": ["c": []]]]],
            [run, run, ["inputs": [["path": "x", "size": 3], ["path": "y", "size": 4, "kind": "source"]]]] as [Any],
            [String: Any](), [Any](),
        ]
    }

    @Test func bytesAreFoundations() throws {
        for (i, value) in Self.samples.enumerated() {
            let ours = try JSONReport.encode(value)
            let reference = try JSONReport.foundationEncode(value)
            #expect(ours == reference, "sample \(i):\n\(String(decoding: ours, as: UTF8.self))\n---\n\(String(decoding: reference, as: UTF8.self))")
        }
    }

    @Test func otherValuesFallBackToFoundation() throws {
        for value: [String: Any] in [["n": NSNumber(value: 3), "s": "x"], ["one": NSNumber(value: 1), "t": NSNumber(value: true)],
                                     ["d": NSNumber(value: 2.5)]] {
            #expect(try JSONReport.encode(value) == JSONReport.foundationEncode(value))
        }
        // What reports read back from disk (numbers as Foundation returns them) still encodes the same.
        let read = try JSONSerialization.jsonObject(with: Data(JSONReport.foundationEncode(Self.samples[0]))) as! [String: Any]
        #expect(try JSONReport.encode(read) == JSONReport.foundationEncode(read))
        #expect(throws: (any Error).self) { _ = try JSONReport.encode(["bad": Double.nan]) }
    }
}
