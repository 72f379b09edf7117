import ArgumentParser
import CRXCore
import Foundation

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create .crx/ in the current directory (idempotent).")

    func run() throws {
        try runReportingErrors {
            let workspace = Workspace(root: FileManager.default.currentDirectoryPath, pipelineFile: "pipeline.yaml")
            let created = try workspace.initialize()
            Printer.out(created ? "Initialized crx project in \(workspace.crxDirectory)" : "crx project already initialized in \(workspace.crxDirectory)")
        }
    }
}
