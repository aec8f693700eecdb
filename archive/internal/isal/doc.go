// Package isal compresses with Intel's ISA-L igzip when its shared library
// (libisal.so.2) is on the machine, and reports that it is not otherwise.
//
// The library is loaded at run time with dlopen, so a binary built with it
// needs nothing at run time: without the library (or built without cgo)
// [Available] is false and callers keep their pure-Go path. igzip's level 2
// deflates SQLite pages of text faster than
// github.com/klauspost/compress/flate's level 1 to about the same size
// (figures in bench/NOTES.md).
//
// isal_abi.h declares the few types and constants of ISA-L's header that
// the package uses, so that building needs no ISA-L package, only a C
// compiler; a test checks them against the real header (Debian's
// libisal-dev) where it is installed.
package isal
