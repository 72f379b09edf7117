#if canImport(Glibc)
import Glibc
#endif

/// Answers "might a symbolic link lie on this project path?" with one look at each directory of
/// the project instead of an `lstat` per component of every path: a directory's entries are read
/// once (`readdir`, whose entry types name the links), so 20,000 deps in a few hundred
/// directories cost a few hundred `getdents` instead of ~80,000 `lstat`s.
///
/// A path with no link on it cannot escape the root through one, so `ProjectPath.symlinkEscape`
/// (the exact check) runs only for paths this says "maybe" to. A component that does not exist
/// ends the walk, as it ends `symlinkEscape`'s.
final class LinkProbe {
    enum Chain { case plain, link, missing }

    let root: String
    let fs = LocalFileSystem()
    /// Root-relative directory → what its chain of components holds.
    private var directories: [String: Chain] = ["": .plain]
    /// Root-relative directory → its entries that are links, or may be (type unknown); nil when unreadable.
    private var links: [String: Set<String>?] = [:]

    init(root: String) { self.root = root }

    /// True when a component of `path` (its last one too when `includingLast`) is, or may be, a link.
    func mayHaveLink(_ path: String, includingLast: Bool) -> Bool {
        let parent = ProjectPath.parent(path)
        switch chain(parent) {
        case .link: return true
        case .missing: return false
        case .plain: return includingLast && isLink(name: ProjectPath.lastComponent(path), in: parent)
        }
    }

    private func chain(_ directory: String) -> Chain {
        if let known = directories[directory] { return known }
        let result: Chain
        let parent = ProjectPath.parent(directory)
        switch chain(parent) {
        case .link: result = .link
        case .missing: result = .missing
        case .plain:
            if isLink(name: ProjectPath.lastComponent(directory), in: parent) {
                result = .link
            } else {
                result = fs.stat(ProjectPath.join(root, directory))?.kind == .directory ? .plain : .missing
            }
        }
        directories[directory] = result
        return result
    }

    /// Whether `name` in the (existing, link-free) `directory` is a link; unknown entry types and
    /// unreadable directories fall back to `lstat`.
    private func isLink(name: String, in directory: String) -> Bool {
        if links[directory] == nil { links[directory] = .some(Self.linkEntries(ProjectPath.join(root, directory))) }
        guard let known = links[directory]!, !known.contains(name) else {
            return fs.lstat(ProjectPath.join(root, directory.isEmpty ? name : directory + "/" + name))?.kind == .symlink
        }
        return false
    }

    /// Entries of `absolute` whose type is a link or unknown; nil when it cannot be read.
    static func linkEntries(_ absolute: String) -> Set<String>? {
        LocalFileSystem().entryNames(in: absolute) { _, type in type == UInt8(DT_LNK) || type == UInt8(DT_UNKNOWN) }
            .map(Set.init)
    }
}
