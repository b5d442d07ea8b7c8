import FakeGrow
import Foundation

// The fake Grow as a process, for the browser suite (scripts/browser-tests): prints its API base
// URL, then serves until it is killed. Callbacks go over HTTP to the notify URLs the server gave.
let grow = try await FakeGrow.start()
FileHandle.standardOutput.write(Data((grow.baseURL + "\n").utf8))
while true { try await Task.sleep(for: .seconds(3600)) }
