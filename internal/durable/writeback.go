package durable

// WritebackEvery is how many bytes a writer lets pile up in the page cache
// before calling StartWriteback for them.
const WritebackEvery = 8 << 20

// PaceWindow is the window of a paced writer (see WaitWriteback): it
// hands each PaceWindow bytes to write-back and then waits for the window
// before, so that at most two windows of it are in flight at once.
const PaceWindow = 4 << 20
