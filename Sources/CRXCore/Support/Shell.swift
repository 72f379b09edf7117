import Foundation

/// Writing text that `/bin/sh` reads back unchanged.
public enum Shell {
    /// Python's `shlex.quote`: unchanged when made only of `[A-Za-z0-9_@%+=:,./-]`, else single-quoted.
    public static func quote(_ s: String) -> String {
        if s.isEmpty { return "''" }
        let safe = s.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || "_@%+=:,./-".unicodeScalars.contains(c)
        }
        if safe { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\"'\"'") + "'"
    }
}
