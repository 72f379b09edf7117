import Foundation
@testable import CRXCore

/// A temporary directory removed when the value goes away.
final class TempDir {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("crx-unit-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ relative: String, _ content: String) -> String {
        let full = path + "/" + relative
        try! FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! content.write(toFile: full, atomically: false, encoding: .utf8)
        return full
    }
}

func parseStages(_ yaml: String, root: String = "/project") throws -> [Stage] {
    try PipelineParser(file: "pipeline.yaml", root: root).parse(yaml)
}

/// The error a throwing expression raised, as a DefinitionError.
func definitionError(_ body: () throws -> Void) -> DefinitionError? {
    do {
        try body()
        return nil
    } catch let e as DefinitionError {
        return e
    } catch {
        return nil
    }
}
