// NumberFormat — fixed float formatting, so artefacts are byte-identical from run to run.
//
// CSV cells are written with a fixed number of decimals (`fixed`); numbers in JSON reports are
// rounded to a fixed number of decimals (`rounded`) before JSONEncoder prints their shortest form.
import Foundation

public enum NumberFormat {
    /// Decimals of the numbers in JSON reports.
    public static let reportDecimals = 6
    /// Decimals of model coefficients and preprocessing constants in model.json.
    public static let modelDecimals = 10
    /// Decimals of feature values in CSV files.
    public static let csvDecimals = 8

    /// `x` rounded half away from zero to `places` decimals; negative zero becomes zero.
    public static func rounded(_ x: Double, places: Int = reportDecimals) -> Double {
        guard x.isFinite else { return x }
        let scale = pow(10.0, Double(places))
        let r = (x * scale).rounded(.toNearestOrAwayFromZero) / scale
        return r == 0 ? 0 : r
    }

    /// `x` with exactly `places` decimals ("%.{places}f", C locale); "-0.000" is printed as "0.000".
    public static func fixed(_ x: Double, places: Int = csvDecimals) -> String {
        precondition(x.isFinite, "cannot format a non-finite number in an artefact")
        let s = String(format: "%.\(places)f", x)
        if s.hasPrefix("-"), s.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) {
            return String(s.dropFirst())
        }
        return s
    }

    /// An integer-valued double printed without decimals ("12"), anything else with `fixed`.
    public static func compact(_ x: Double, places: Int = csvDecimals) -> String {
        if x.isFinite, x == x.rounded(), abs(x) < 1e15 {
            return String(Int64(x))
        }
        return fixed(x, places: places)
    }
}
