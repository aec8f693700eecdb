package durable

// WritebackEvery is how many bytes a writer lets pile up in the page cache
// before calling StartWriteback for them.
const WritebackEvery = 8 << 20
