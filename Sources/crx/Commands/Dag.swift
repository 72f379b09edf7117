import ArgumentParser
import CRXCore

struct Dag: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dag", abstract: "Show the stage graph (ASCII by default).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Show only this stage and its upstream.")
    var target: String?

    @Flag(help: "Graphviz dot.") var dot = false
    @Flag(help: "Mermaid flowchart.") var mermaid = false
    @Flag(help: "JSON: nodes and edges.") var json = false

    func run() throws {
        try runReportingErrors {
            let pipeline = try global.workspace().loadPipeline()
            let graph = DagRenderer(pipeline: pipeline, stages: try pipeline.select(targets: target.map { [$0] } ?? []))
            if dot {
                Printer.out(graph.dot())
            } else if mermaid {
                Printer.out(graph.mermaid())
            } else if json {
                Printer.json(["nodes": graph.names, "edges": graph.edges.map { ["from": $0.from, "to": $0.to] }])
            } else {
                Printer.out(graph.ascii())
            }
        }
    }
}
