import ChingDomain
import ChingHTTP
import ChingServices
import Foundation
import Logging
import Mustache
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The branding of every project, read from the branding root and kept fresh: each lookup
/// compares the folder's file names, sizes and modification times with the last load, so an
/// edited file shows on the next request without a restart. A folder that fails its checks keeps
/// serving the last good brand (or the stock look), and its problems are logged once per change.
package final class BrandingStore: Sendable {
    let root: String
    let stockTemplates: [String: MustacheTemplate]
    let logger: Logger
    private let state = Mutex<[String: Entry]>([:])
    /// What the root held at its last stamp: which slug folder's brand.json names which project,
    /// and each project's folder (or none) as resolved so far. Rebuilt when the root's stamp moves.
    private let rootIndex = Mutex<RootIndex>(RootIndex(stamp: "", slugs: [:]))
    /// Each brand folder's file names, read again only when the folder's own stamp changes.
    private let listings = Mutex<[String: (stamp: String, names: [String])]>([:])

    private struct RootIndex {
        let stamp: String
        let slugs: [String: String]
        var folders: [String: String?] = [:]
    }

    struct Entry: Sendable {
        var folder: String
        var stamp: String
        var current: Brand?
        var lastGood: Brand?
        var library: MustacheLibrary?
    }

    init(root: String, stock: MustacheLibrary, logger: Logger) {
        self.root = root
        var templates: [String: MustacheTemplate] = [:]
        for name in PageRenderer.templateNames { templates[name] = stock.getTemplate(named: name) }
        stockTemplates = templates
        self.logger = logger
    }

    /// The project's brand (nil: the stock look) and the template library to render its pages with.
    func brand(projectID: String, folderName: String?) -> (brand: Brand?, library: MustacheLibrary?) {
        guard let folder = folder(projectID: projectID, folderName: folderName) else { return (nil, nil) }
        let stamp = stamp(folder)
        if let entry = state.withLock({ $0[projectID] }), entry.folder == folder, entry.stamp == stamp {
            return (entry.current ?? entry.lastGood, entry.library)
        }
        var (loaded, problems) = BrandLoader.load(folder: folder)
        loaded?.version = stamp
        for problem in problems {
            logger.warning("Branding problem", metadata: ["project": "\(projectID)", "problem": "\(problem)"])
        }
        return state.withLock { entries in
            var entry = entries[projectID] ?? Entry(folder: folder, stamp: stamp)
            entry.folder = folder
            entry.stamp = stamp
            entry.current = loaded
            if let loaded {
                entry.lastGood = loaded
                var templates = stockTemplates
                for (name, template) in loaded.templates { templates[name] = template }
                entry.library = MustacheLibrary(templates: templates)
            }
            entries[projectID] = entry
            return (entry.current ?? entry.lastGood, entry.library)
        }
    }

    /// `<root>/<project id>/`; else a folder whose brand.json says `"project": "<project id>"`;
    /// else `<root>/<folder name>/` when the project names one (`ching project create --branding`).
    func folder(projectID: String, folderName: String?) -> String? {
        // Which folders exist changes only with the root's own modification time.
        let index = currentRootIndex()
        let key = projectID + "/" + (folderName ?? "")
        if let cached = index.folders[key] { return cached }
        let folder = Self.directory(root, projectID) ?? index.slugs[projectID].flatMap { Self.directory(root, $0) }
            ?? folderName.flatMap { Self.directory(root, $0) }
        rootIndex.withLock { if $0.stamp == index.stamp { $0.folders[key] = .some(folder) } }
        return folder
    }

    private static func directory(_ root: String, _ name: String) -> String? {
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else { return nil }
        let path = "\(root)/\(name)"
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR ? path : nil
    }

    private func currentRootIndex() -> RootIndex {
        // The root's own modification time changes when a folder is added, removed or renamed; a
        // brand.json that starts naming a project in place is noticed with the next such change.
        let stamp = Self.fileStamp(root)
        if let cached = rootIndex.withLock({ $0.stamp == stamp ? $0 : nil }) { return cached }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted().filter { !$0.hasPrefix(".") }
        var folders: [String: String] = [:]
        for name in names {
            guard let data = FileManager.default.contents(atPath: "\(root)/\(name)/brand.json"),
                  let project = (try? JSONValue.parse(Array(data)))?["project"]?.stringValue else { continue }
            folders[project] = name
        }
        let index = RootIndex(stamp: stamp, slugs: folders)
        rootIndex.withLock { $0 = index }
        return index
    }

    /// What changes when any file in the folder is edited, added or removed: names, sizes and
    /// modification times, read with plain `stat` (this runs on every page view). Adding,
    /// removing or renaming a file (as editors save) moves the folder's own modification time,
    /// so the listing is read again only then; an edit in place moves the file's.
    func stamp(_ folder: String) -> String {
        let folderStamp = Self.fileStamp(folder)
        let names = listings.withLock { $0[folder].flatMap { $0.stamp == folderStamp ? $0.names : nil } } ?? {
            let listed = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
            listings.withLock { $0[folder] = (folderStamp, listed) }
            return listed
        }()
        return ([folderStamp] + names.map { name in "\(name):\(Self.fileStamp("\(folder)/\(name)"))" }).joined(separator: "|")
    }

    /// Size and modification time (nanoseconds), or "-" when the file cannot be read.
    static func fileStamp(_ path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { return "-" }
        return "\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }

    /// Checks every folder under the root, as `ching branding check` does.
    package static func check(root: String) -> [BrandProblem] {
        let folders = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted().filter { !$0.hasPrefix(".") }
        var problems: [BrandProblem] = []
        for name in folders {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: "\(root)/\(name)", isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            problems += BrandLoader.load(folder: "\(root)/\(name)").problems
        }
        return problems
    }
}
