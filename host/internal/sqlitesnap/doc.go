// Package sqlitesnap is the host's SQLite work, with no HTTP: it finds the
// databases of a data directory, takes a transactionally consistent
// snapshot of them for an archive to read (a WAL database frozen in place,
// any other copied with the online backup API), and checks databases with
// PRAGMA quick_check, in a bounded child process when they came from an
// uploaded archive.
//
// It exists so that the freeze logic, whose correctness rests on SQLite's
// locks and on never opening a live database outside SQLite, sits behind a
// small API (Take, Snapshot.Release, Verify, VerifyInChild) that the HTTP
// handlers cannot reach around.
//
// The checker child is the app's own executable started again; its main
// must call CheckerChild first (the host package exports it as
// host.RunChecker).
package sqlitesnap
