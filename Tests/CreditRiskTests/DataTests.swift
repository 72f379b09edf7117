import Foundation
import Testing
@testable import CreditRisk

struct CSVTests {
    @Test func quotedCommasQuotesAndCRLF() throws {
        let text = "a,b,c\r\n1,\"yes, registered\",x\r\n2,\"say \"\"hi\"\"\",\"\"\r\n3,\"two\nlines\",z\r\n"
        let table = try CSV.parse(text)
        #expect(table.header == ["a", "b", "c"])
        #expect(table.rows == [["1", "yes, registered", "x"], ["2", "say \"hi\"", ""], ["3", "two\nlines", "z"]])
    }

    @Test func renderQuotesOnlyWhenNeededAndRoundTrips() throws {
        let table = CSVTable(header: ["id", "v"], rows: [["1", "a,b"], ["2", "q\"q"], ["3", "plain"]])
        let text = CSV.render(table)
        #expect(text == "id,v\n1,\"a,b\"\n2,\"q\"\"q\"\n3,plain\n")
        #expect(try CSV.parse(text) == table)
    }

    @Test func malformedInputIsRejected() {
        #expect(throws: CSVError.unterminatedQuote(record: 2)) { try CSV.parse("a,b\n1,\"open\n") }
        #expect(throws: CSVError.raggedRow(record: 3, expected: 2, found: 3)) { try CSV.parse("a,b\n1,2\n1,2,3\n") }
        #expect(throws: CSVError.unexpectedQuote(record: 2, field: 1)) { try CSV.parse("a\nx\"y\n") }
    }

    @Test func rawGermanCreditHeaderAndQuotedLevel() throws {
        // The real feed (data/raw/ of this repository), found from this file's location.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.appendingPathComponent("data/raw/germancredit.csv").path
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("missing \(path)")
            return
        }
        let table = try CSV.parse(try Artefacts.readText(path))
        #expect(table.rows.count == 1000)
        #expect(table.header.count == 21)
        let telephone = table.columnIndex("telephone")!
        #expect(table.rows[0][telephone] == "yes, registered under the customers name")
        #expect(GermanCreditContract.contract.validate(table).passed)
    }
}

struct DataContractTests {
    /// A valid row in contract column order: the first level of each category, the minimum of each range.
    static func validRow(label: String = "good") -> [String] {
        GermanCreditContract.contract.columns.map { column in
            if column.name == GermanCreditContract.labelColumn { return label }
            switch column.kind {
            case .integer(let lo, _): return String(lo)
            case .categorical(let levels): return levels[0]
            }
        }
    }

    static var header: [String] { GermanCreditContract.contract.columns.map(\.name) }

    @Test func validTablePassesAndIsTyped() {
        let rows = (0..<100).map { Self.validRow(label: $0 % 3 == 0 ? "bad" : "good") }
        let result = GermanCreditContract.contract.validate(CSVTable(header: Self.header, rows: rows))
        #expect(result.passed)
        #expect(result.table?.rowCount == 100)
        #expect(result.table?.applicantIDs.first == 1 && result.table?.applicantIDs.last == 100)
        #expect(result.table?.numeric["age_in_years"]?.first == 18)
    }

    @Test func badRowsAreReportedByRowAndColumn() {
        var rows = (0..<100).map { _ in Self.validRow() }
        let h = Self.header
        rows[4][h.firstIndex(of: "purpose")!] = "vacation"              // unknown category
        rows[6][h.firstIndex(of: "age_in_years")!] = "17"               // out of range
        rows[6][h.firstIndex(of: "credit_amount")!] = "12.5"            // not an integer
        rows[9][h.firstIndex(of: "creditability")!] = ""                // empty label
        let result = GermanCreditContract.contract.validate(CSVTable(header: h, rows: rows))
        #expect(!result.passed)
        #expect(result.table == nil)
        let found = result.violations.map { "\($0.row!):\($0.column!):\($0.rule)" }
        #expect(found == [
            "5:purpose:unknown_category",
            "7:credit_amount:not_an_integer",
            "7:age_in_years:out_of_range",
            "10:creditability:empty_label",
        ])
        #expect(result.violations[0].value == "vacation")
    }

    @Test func missingAndUnexpectedColumns() {
        var h = Self.header
        h[h.firstIndex(of: "housing")!] = "housing_type"
        let rows = (0..<100).map { _ in Self.validRow() }
        let result = GermanCreditContract.contract.validate(CSVTable(header: h, rows: rows))
        #expect(Set(result.violations.map(\.rule)) == ["unexpected_column", "missing_column"])
        #expect(result.violations.contains { $0.rule == "missing_column" && $0.column == "housing" && $0.row == nil })
    }

    @Test func interimTableRoundTripsWithIds() {
        let rows = (0..<100).map { Self.validRow(label: $0 % 2 == 0 ? "bad" : "good") }
        let table = GermanCreditContract.contract.validate(CSVTable(header: Self.header, rows: rows)).table!
        let again = GermanCreditContract.contract.validate(try! CSV.parse(table.renderCSV()), idColumn: TypedTable.idColumn)
        #expect(again.table == table)
    }
}

struct FeatureTests {
    @Test func oneHotAndLog1pFeatures() throws {
        let rows = (0..<100).map { DataContractTests.validRow(label: $0 == 0 ? "bad" : "good") }
        let typed = GermanCreditContract.contract.validate(CSVTable(header: DataContractTests.header, rows: rows)).table!
        let features = try FeatureEncoding.build(
            typed, contract: GermanCreditContract.contract, positiveLabel: "bad",
            options: FeatureEncodingOptions(log1p: ["credit_amount"], addAmountPerMonth: true))
        #expect(features.labels.reduce(0, +) == 1 && features.labels[0] == 1)
        // 7 numeric + 1 derived + one indicator per level of the 13 categorical attributes.
        let levels = GermanCreditContract.attributeColumns.reduce(0) {
            if case .categorical(let l) = $1.kind { return $0 + l.count } else { return $0 }
        }
        #expect(features.featureNames.count == 8 + levels)
        let amount = features.featureNames.firstIndex(of: "credit_amount_log1p")!
        #expect(features.rows[0][amount] == NumberFormat.rounded(log1p(1.0), places: NumberFormat.csvDecimals))
        let groups = features.groups()
        #expect(groups.count == 21)
        let employment = groups.first { $0.attribute == "present_employment_since" }!
        guard case .indicators(let indicators) = employment.kind else { Issue.record("not indicators"); return }
        #expect(indicators.map(\.level).last == "... >= 7 years")
        // CSV round trip is exact.
        #expect(try FeatureTable.parse(features.renderCSV()) == features)
    }
}

struct SplitTests {
    let ids = Array(1...1000)
    let labels = (1...1000).map { $0 % 10 < 3 ? 1 : 0 }  // 300 bads

    @Test func splitMix64ReferenceValues() {
        var rng = SplitMix64(seed: 0)
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
        #expect(rng.next() == 0x6E78_9E6A_A1B9_65F4)
    }

    @Test func stratifiedDisjointAndDeterministic() throws {
        let a = try StratifiedSplit.split(ids: ids, labels: labels, testRatio: 0.3, seed: 7)
        let b = try StratifiedSplit.split(ids: ids.reversed(), labels: labels.reversed(), testRatio: 0.3, seed: 7)
        #expect(a == b)  // same seed → same split, whatever the row order
        #expect(a.testIDs.count == 300 && a.trainIDs.count == 700)
        #expect(Set(a.trainIDs).isDisjoint(with: a.testIDs))
        #expect(Set(a.trainIDs + a.testIDs) == Set(ids))
        let badOf = Dictionary(uniqueKeysWithValues: zip(ids, labels))
        #expect(a.testIDs.filter { badOf[$0] == 1 }.count == 90)    // 30% of the 300 bads
        #expect(a.trainIDs.filter { badOf[$0] == 1 }.count == 210)
        let c = try StratifiedSplit.split(ids: ids, labels: labels, testRatio: 0.3, seed: 8)
        #expect(c.testIDs != a.testIDs)
    }

    @Test func overlapIsDetected() {
        let broken = StratifiedSplit(trainIDs: [1, 2, 3], testIDs: [3, 4])
        #expect(throws: StratifiedSplit.Failure.self) { try broken.checkDisjoint(covering: [1, 2, 3, 4]) }
        #expect(throws: StratifiedSplit.Failure.self) {
            try StratifiedSplit.split(ids: [1, 2], labels: [0, 1], testRatio: 1.5, seed: 1)
        }
    }
}
