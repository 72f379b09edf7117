/// Answers "might a symbolic link lie on this project path?" with one `lstat` per directory of
/// the project instead of one per component of every path: at 20,000 deps in a few hundred
/// directories, the difference between ~80,000 `lstat`s and ~20,000.
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

    init(root: String) { self.root = root }

    /// True when a component of `path` (its last one too when `includingLast`) is, or may be, a link.
    func mayHaveLink(_ path: String, includingLast: Bool) -> Bool {
        switch chain(ProjectPath.parent(path)) {
        case .link: return true
        case .missing: return false
        case .plain: return includingLast && fs.lstat(ProjectPath.join(root, path))?.kind == .symlink
        }
    }

    private func chain(_ directory: String) -> Chain {
        if let known = directories[directory] { return known }
        let result: Chain
        switch chain(ProjectPath.parent(directory)) {
        case .link: result = .link
        case .missing: result = .missing
        case .plain:
            switch fs.lstat(ProjectPath.join(root, directory))?.kind {
            case nil: result = .missing
            case .symlink?: result = .link
            default: result = .plain
            }
        }
        directories[directory] = result
        return result
    }
}
