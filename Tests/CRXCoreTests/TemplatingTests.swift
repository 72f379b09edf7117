import Foundation
import Testing
@testable import CRXCore

/// DVC's templating and stage generation (`vars`, `${…}`, foreach/do, matrix). Every expected
/// cmd, name and tracked param below is what DVC 3.67.1's resolver produced for the same files.
@Suite struct TemplatingTests {
    /// Parses `yaml` as `dvc.yaml` in a temporary project holding `files`.
    private func parse(_ yaml: String, files: [String: String] = [:], file: String = "dvc.yaml") throws -> (stages: [Stage], dir: TempDir) {
        let dir = TempDir()
        for (path, text) in files { dir.write(path, text) }
        dir.write(file, yaml)
        return (try PipelineParser(file: file, root: dir.path).parse(yaml), dir)
    }

    private func error(_ yaml: String, files: [String: String] = [:]) -> DefinitionError? {
        definitionError { _ = try parse(yaml, files: files) }
    }

    private let params = """
    lr: 1e-3
    big: 1e16
    small: 0.00001
    flag: true
    n: 010
    name: my model
    opts: {lr: 0.01, name: it's, layers: [4, 2, "a b"], verbose: true, quiet: false, none: null, nested: {beta: 0.9, empty: {}}}
    models: [cnn, rnn]
    bools: [true, false]
    dictitems: {small: {size: 1}, big: {size: 2}}
    """

    @Test func interpolatesLikeDVC() throws {
        let (stages, _) = try parse("""
        vars:
          - extra:
              x: 1
        stages:
          a:
            cmd: python t.py ${lr} ${big} ${small} ${flag} ${n} ${opts} \\${lr} ${ models[1] } ${extra.x}
            outs:
              - ${name}.txt
        """, files: ["params.yaml": params])
        let a = try #require(stages.first)
        // YAML 1.2 numbers (1e-3 is 0.001, 010 is 10), Python's float printing, dict unpacking
        // (shell-quoted strings, list after one flag, bare true flag, no false flag, None, dotted
        // nested keys, empty dict dropped), the escaped \${lr} kept as ${lr}.
        #expect(a.cmd == ["python t.py 0.001 1e+16 1e-05 true 10 --lr 0.01 --name 'it'\"'\"'s' --layers 4 2 'a b' --verbose --none None --nested.beta 0.9 ${lr} rnn 1"])
        #expect(a.outs.map(\.path) == ["my model.txt"])
        // Params read through ${} from params.yaml are tracked (DVC's tracked_vars), the dict and
        // the inline vars value are not.
        #expect(a.params.map { "\($0.file):\($0.key ?? "*")" }
            == ["params.yaml:lr", "params.yaml:big", "params.yaml:small", "params.yaml:flag", "params.yaml:n",
                "params.yaml:models.1", "params.yaml:name"])
        let tracked = try #require(a.params.first)
        #expect(tracked.location.file == "dvc.yaml" && tracked.location.line == 6)
    }

    @Test func foreachAndMatrixNamesLikeDVC() throws {
        let (stages, _) = try parse("""
        stages:
          f:
            foreach: ${bools}
            do:
              cmd: echo ${item}
          g:
            foreach: [true, 1.5, null, 1e-5]
            do:
              cmd: echo ${item}
          h:
            foreach: ${dictitems}
            do:
              cmd: echo ${key} ${item.size}
          m:
            matrix:
              model: ${models}
              lr: [0.1, 1e-4]
              cfg:
                - a: 1
                - [1, 2]
            cmd: echo ${item.model} ${item.lr} ${key}
          lst:
            foreach:
              - [1, 2]
              - [3]
            do:
              cmd: echo ${item[0]}
          tr:
            matrix:
              model: [cnn]
              on: [true]
            cmd: python train.py ${item}
        """, files: ["params.yaml": params])
        #expect(stages.map(\.name) == [
            "f@True", "f@False",  // booleans read from params.yaml: Python's str(), as DVC names them
            "g@true", "g@1.5", "g@None", "g@1e-05",
            "h@small", "h@big",
            "m@cnn-0.1-cfg0", "m@cnn-0.1-cfg1", "m@cnn-0.0001-cfg0", "m@cnn-0.0001-cfg1",
            "m@rnn-0.1-cfg0", "m@rnn-0.1-cfg1", "m@rnn-0.0001-cfg0", "m@rnn-0.0001-cfg1",
            "lst@0", "lst@1",
            "tr@cnn-true",
        ])
        let byName = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0) })
        #expect(byName["f@True"]?.cmd == ["echo true"])
        #expect(byName["g@None"]?.cmd == ["echo None"])
        #expect(byName["h@big"]?.cmd == ["echo big 2"])
        #expect(byName["m@rnn-0.0001-cfg1"]?.cmd == ["echo rnn 0.0001 rnn-0.0001-cfg1"])
        #expect(byName["lst@1"]?.cmd == ["echo 3"])
        #expect(byName["tr@cnn-true"]?.cmd == ["python train.py --model cnn --on"])
        // Values reached through item/key are not tracked as params (their list-index paths shift
        // when the list is edited; the cmd and paths carry the value anyway).
        #expect(stages.allSatisfy { $0.params.isEmpty })
    }

    @Test func foreachOverListOfDictsFromParams() throws {
        let (stages, _) = try parse("""
        stages:
          a:
            foreach: ${ds}
            do:
              cmd: echo ${item.n}
              deps:
                - ${item.n}.csv
        """, files: ["params.yaml": "ds:\n  - n: a\n  - n: b\n"])
        #expect(stages.map(\.name) == ["a@0", "a@1"])
        #expect(stages.map(\.deps) .map { $0.map(\.path) } == [["a.csv"], ["b.csv"]])
    }

    @Test func stageVarsAreRelativeToWdirAndEscapesStay() throws {
        let (stages, _) = try parse("""
        stages:
          a:
            wdir: sub
            vars:
              - v.yaml
            cmd: echo ${x} ${y}
            outs:
              - \\${x}/y
        """, files: ["params.yaml": "y: 2\n", "sub/v.yaml": "x: 1\n"])
        let a = try #require(stages.first)
        #expect(a.cmd == ["echo 1 2"])
        #expect(a.outs.map(\.path) == ["sub/${x}/y"])
        #expect(a.params.map { "\($0.file):\($0.key ?? "*")" } == ["params.yaml:y"])  // not the vars file's x
    }

    @Test func exactReferencesKeepTheirType() throws {
        let (stages, _) = try parse("""
        stages:
          a:
            cmd: echo
            deps:
              - ${n}
            frozen: ${f}
        """, files: ["params.yaml": "n: 5\nf: true\n"])
        #expect(stages[0].deps.map(\.path) == ["5"])
        #expect(stages[0].frozen)
        #expect(stages[0].params.compactMap(\.key) == ["n", "f"])
    }

    @Test func paramsFileListedAgainInVarsIsLoadedOnce() throws {
        let (stages, _) = try parse("""
        vars:
          - params.yaml
          - c: 3
        stages:
          a:
            cmd: echo ${b} ${c}
        """, files: ["params.yaml": "b: 1\n"])
        #expect(stages[0].cmd == ["echo 1 3"])
    }

    @Test func tomlAndJSONVarsFiles() throws {
        let (stages, _) = try parse("""
        vars:
          - v.toml
          - w.json
        stages:
          a:
            cmd: echo ${t.a} ${t.b} ${j.z} ${j.y[1]} ${j}
        """, files: ["v.toml": "[t]\nb = 2\na = \"x y\"\n", "w.json": "{\"j\": {\"z\": 1.0, \"y\": [1, \"q\"]}}"])
        #expect(stages[0].cmd == ["echo x y 2 1.0 q --z 1.0 --y 1 q"])
    }

    @Test func subdirectoryPipelineReadsItsOwnParams() throws {
        let (stages, _) = try parse("""
        stages:
          a:
            foreach: ${sets}
            do:
              cmd: ./run ${item} ${seed}
              outs:
                - out/${item}.csv
        """, files: ["sub/params.yaml": "sets: [x, y]\nseed: 7\n", "params.yaml": "sets: [nope]\n"], file: "sub/dvc.yaml")
        #expect(stages.map(\.name) == ["a@x", "a@y"])
        #expect(stages[0].cmd == ["./run x 7"])
        #expect(stages[0].outs.map(\.path) == ["sub/out/x.csv"])
        #expect(stages[0].params.map { "\($0.file):\($0.key ?? "*")" } == ["sub/params.yaml:seed"])
    }

    @Test func generatedNamesMayHoldSlashes() throws {
        let (stages, _) = try parse("""
        stages:
          schema:
            foreach: [az2014/ratings, goodreads/users]
            do:
              cmd: ./schema ${item}
        """)
        #expect(stages.map(\.name) == ["schema@az2014/ratings", "schema@goodreads/users"])
    }

    // MARK: errors (DVC's messages, located)

    @Test(arguments: [
        // (dvc.yaml, params.yaml, other file, line, column, message)
        ("vars:\n  - other.yaml\nstages:\n  a:\n    cmd: echo ${a.b}\n", "a:\n  b: 1\n", "a:\n  b: 2\n", 2, 5,
         "cannot redefine 'a.b' from 'other.yaml' as it already exists in 'params.yaml'"),
        ("stages:\n  a:\n    foreach: [x]\n    do:\n      vars:\n        - item: 1\n      cmd: echo ${item}\n", "", "", 6, 11,
         "attempted to modify reserved key 'item'"),
        ("vars:\n  - ${x}.yaml\nstages:\n  a:\n    cmd: echo\n", "", "", 2, 5, "interpolating is not allowed"),
        ("stages:\n  a:\n    cmd: echo ${nope.x}\n", "a: 1\n", "", 3, 10, "failed to parse 'stages.a.cmd': Could not find 'nope.x'"),
        ("stages:\n  a:\n    cmd: echo\n    deps:\n      - ${l}\n", "l: [1, 2]\n", "", 5, 9, "Cannot interpolate data of type 'list'"),
        ("stages:\n  a:\n    cmd: echo \"${l}\"\n", "l: [1, 2]\n", "", 3, 10, "Cannot interpolate data of type 'list'"),
        ("vars:\n  - other.yaml:a\n  - other.yaml\nstages:\n  a:\n    cmd: echo\n", "", "a: 1\nb: 2\n", 3, 5,
         "cannot load 'other.yaml' as it's partially loaded already"),
        ("vars:\n  - params.yaml:a\nstages:\n  a:\n    cmd: echo\n", "a: 1\n", "", 2, 5,
         "cannot partially load 'params.yaml:a' as it's already loaded."),
        ("stages:\n  a:\n    cmd: echo ${a[0}\n", "a: [1]\n", "", 3, 10, "invalid expression '${a[0}'"),
        ("stages:\n  a:\n    cmd: echo ${}\n", "", "", 3, 10, "invalid expression '${}'"),
        ("stages:\n  a:\n    foreach: abc\n    do:\n      cmd: echo ${item}\n", "", "", 3, 14, "expected list/dictionary, got str"),
        ("stages:\n  a:\n    foreach: [a, b]\n    do:\n      cmd: echo ${key}\n", "", "", 5, 12, "Could not find 'key'"),
        ("vars:\n  - missing.yaml\nstages:\n  a:\n    cmd: echo\n", "", "", 2, 5, "'missing.yaml' does not exist"),
        ("vars:\n  - other.yaml:zz\nstages:\n  a:\n    cmd: echo\n", "", "a: 1\n", 2, 5, "could not find 'zz' in 'other.yaml'"),
        ("stages:\n  a:\n    cmd: echo ${l[5]}\n", "l: [1, 2]\n", "", 3, 10, "index 5 is out of range"),
        ("stages:\n  a:\n    foreach: [x]\n    matrix: {a: [1]}\n    do:\n      cmd: echo\n", "", "", 4, 5, "unknown key 'matrix' beside 'foreach'/'do'"),
        ("stages:\n  a:\n    do:\n      cmd: echo\n", "", "", 2, 3, "'do' without 'foreach'"),
        ("stages:\n  a:\n    matrix:\n      x: 3\n    cmd: echo\n", "", "", 4, 10, "must be a list of values"),
        ("vars:\n  - v.py\nstages:\n  a:\n    cmd: echo\n", "", "", 1, 1, "Python params files (.py) are not supported"),
    ] as [(String, String, String, Int, Int, String)])
    func errorsAreLocatedAndNameTheKey(yaml: String, params: String, other: String, line: Int, column: Int, message: String) throws {
        var files: [String: String] = [:]
        if !params.isEmpty { files["params.yaml"] = params }
        if !other.isEmpty { files["other.yaml"] = other }
        if yaml.contains("v.py") { files["v.py"] = "x = 1\n" }
        let e = try #require(error(yaml, files: files), "no error for:\n\(yaml)")
        #expect(e.message.contains(message), "\(e)")
        if message.contains(".py") {
            #expect(e.location?.file == "v.py")
        } else {
            #expect(e.location?.file == "dvc.yaml", "\(e)")
            #expect(e.location?.line == line, "\(e)")
            #expect(e.location?.column == column, "\(e)")
        }
    }

    @Test func invalidYAMLInParamsFileNamesThatFile() throws {
        let e = try #require(error("stages:\n  a:\n    cmd: echo ${x}\n", files: ["params.yaml": "x: [1\n"]))
        #expect(e.location?.file == "params.yaml")
    }

    // MARK: targets

    @Test func groupNameSelectsItsMembers() throws {
        let (stages, _) = try parse("""
        stages:
          prep:
            cmd: ./prep
            outs: [data.csv]
          train:
            foreach: [a, b]
            do:
              cmd: ./train ${item}
              deps: [data.csv]
              outs:
                - model-${item}.bin
          report:
            cmd: ./report
        """)
        let pipeline = try Pipeline(file: "dvc.yaml", stages: stages)
        #expect(try pipeline.resolve(targets: ["train"]).map { pipeline.stages[$0].name } == ["train@a", "train@b"])
        #expect(try pipeline.resolve(targets: ["dvc.yaml:train@b"]).map { pipeline.stages[$0].name } == ["train@b"])
        #expect(try pipeline.select(targets: ["train"]).map { pipeline.stages[$0].name } == ["prep", "train@a", "train@b"])
        let unknown = try #require(definitionError { _ = try pipeline.resolve(targets: ["trian"]) })
        #expect(unknown.message.contains("did you mean 'train'?"), "\(unknown)")
    }

    // MARK: pieces

    @Test func pythonFloatRepr() {
        let cases: [(Double, String)] = [(0.001, "0.001"), (1e-4, "0.0001"), (1e-5, "1e-05"), (1e15, "1000000000000000.0"),
                                         (1e16, "1e+16"), (1.5e16, "1.5e+16"), (123456789012345678.0, "1.2345678901234568e+17"),
                                         (1.0, "1.0"), (-2.5, "-2.5"), (0, "0.0"), (100, "100.0"), (1e100, "1e+100"),
                                         (.infinity, "inf"), (.nan, "nan"), (0.1 + 0.2, "0.30000000000000004")]
        for (d, text) in cases { #expect(TemplateValue.pythonFloat(d) == text, "\(d)") }
    }

    @Test func yaml12Scalars() {
        let cases: [(String, TemplateValue.Kind)] = [
            ("yes", .string("yes")), ("on", .string("on")), ("true", .bool(true)), ("False", .bool(false)),
            ("1e-3", .float(0.001)), ("1e3", .float(1000)), ("1.", .float(1)), (".5", .float(0.5)),
            ("010", .int(10)), ("0o10", .int(8)), ("0x1F", .int(31)), ("0b11", .int(3)), ("1_000", .int(1000)),
            ("+1", .int(1)), ("~", .null), ("", .null), ("2020-01-01", .string("2020-01-01")), ("1:30", .string("1:30")),
            ("-.inf", .float(-.infinity)), ("abc", .string("abc")),
        ]
        for (text, kind) in cases { #expect(YAML12.resolvePlain(text) == kind, "\(text)") }
    }

    @Test func dictUnpackingRules() throws {
        var d = TemplateDict()
        d["s"] = TemplateValue(.string(""))
        d["f"] = TemplateValue(.float(0.5))
        d["l"] = TemplateValue(.list([TemplateValue(.bool(true)), TemplateValue(.null)]))
        #expect(try DictUnpacking.arguments(d) == "--s '' --f 0.5 --l True None")
        d["bad"] = TemplateValue(.list([TemplateValue(.list([]))]))
        #expect(throws: TemplateError.self) { try DictUnpacking.arguments(d) }
        #expect(DictUnpacking.shellQuote("a/b-c.d_e:f,g=h+i@j%k") == "a/b-c.d_e:f,g=h+i@j%k")
        #expect(DictUnpacking.shellQuote("é") == "'é'")
    }

    @Test func tomlParamsFile() throws {
        let dir = TempDir()
        dir.write("p.toml", "title = \"x\"\n[train]\nlr = 0.1\nepochs = 3\nlayers = [1, 2]\nwhen = 2024-01-31\n")
        let file = try #require(try ParamsFile.load(absolutePath: dir.path + "/p.toml", displayPath: "p.toml"))
        #expect(file.value("train.lr") == .double(0.1))
        #expect(file.value("train.epochs") == .int(3))
        #expect(file.value("train.layers.1") == .int(2))
        #expect(file.value("train.when") == .string("2024-01-31"))
        #expect(file.value("title") == .string("x"))
        dir.write("bad.toml", "a = \n")
        let bad = try #require(definitionError { _ = try ParamsFile.load(absolutePath: dir.path + "/bad.toml", displayPath: "bad.toml") })
        #expect(bad.location?.file == "bad.toml" && bad.location?.line == 1)
        dir.write("p.py", "lr = 0.1\n")
        let py = try #require(definitionError { _ = try ParamsFile.load(absolutePath: dir.path + "/p.py", displayPath: "p.py") })
        #expect(py.message.contains("Python params files"))
    }
}
