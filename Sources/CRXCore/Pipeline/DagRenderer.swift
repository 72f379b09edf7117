/// Renders (part of) a pipeline's graph as ASCII, Graphviz dot, Mermaid, or nodes and edges.
public struct DagRenderer: Sendable {
    public let names: [String]
    public let edges: [(from: String, to: String)]
    let levels: [String: Int]

    public init(pipeline: Pipeline, stages: [Int]) {
        let chosen = Set(stages)
        names = stages.map { pipeline.stages[$0].name }
        var edges: [(String, String)] = []
        var levels: [String: Int] = [:]
        for i in stages {
            let ups = pipeline.upstream[i].filter { chosen.contains($0) }
            for u in ups { edges.append((pipeline.stages[u].name, pipeline.stages[i].name)) }
            levels[pipeline.stages[i].name] = (ups.map { levels[pipeline.stages[$0].name] ?? 0 }.max() ?? -1) + 1
        }
        self.edges = edges
        self.levels = levels
    }

    /// One line per stage in dependency order, indented by depth, with its inputs:
    /// ```
    /// prepare
    ///   train          ◀ prepare
    ///     evaluate     ◀ train, prepare
    /// ```
    public func ascii() -> String {
        let width = names.map { $0.count + 2 * (levels[$0] ?? 0) }.max() ?? 0
        return names.map { name in
            let indent = String(repeating: "  ", count: levels[name] ?? 0)
            let inputs = edges.filter { $0.to == name }.map(\.from)
            let label = indent + name
            if inputs.isEmpty { return label }
            return label + String(repeating: " ", count: width - label.count + 2) + "◀ " + inputs.joined(separator: ", ")
        }.joined(separator: "\n")
    }

    public func dot() -> String {
        var out = "strict digraph {\n"
        for n in names { out += "  \"\(n)\";\n" }
        for e in edges { out += "  \"\(e.from)\" -> \"\(e.to)\";\n" }
        return out + "}"
    }

    public func mermaid() -> String {
        func id(_ n: String) -> String { "s" + String(names.firstIndex(of: n)!) }
        var out = "flowchart TD\n"
        for n in names { out += "  \(id(n))[\"\(n)\"]\n" }
        for e in edges { out += "  \(id(e.from)) --> \(id(e.to))\n" }
        return out
    }
}
