// Package lazyfs is a test tool: a FUSE file system that forgets, on a
// simulated power cut, everything the programs using it did not make
// durable. Only tests import it; the posagent command must never depend on
// it.
//
// It passes through to a backing folder, which holds at all times exactly
// what a disk would keep after losing power:
//
//   - a write to a file stays in memory until an fsync or fdatasync of that
//     file writes it to the backing file (so does a change of size);
//   - a create, rename or unlink stays in memory until an fsync of the
//     folder applies it, with all those before it, to the backing folder.
//     An fsync of a file does not make its name durable, as POSIX allows:
//     a file created and synced but whose folder was never synced is lost
//     with its contents.
//
// Mount.Cut throws away what is in memory and mounts the backing folder
// again, so that the kernel's page cache, which a power cut empties too,
// holds nothing from before. Reads are served from the backing files with
// the writes in memory laid over them, so a program sees its own writes
// however it reads them, through read(2) or a shared memory map (the mount
// does not use direct I/O, which would break mmap).
//
// The process that mounts a lazyfs serves it, so it must not map a file of
// the mount itself (bbolt does, and so does queue.Open): a page fault there
// waits on its own server, whose next allocation may wait to stop the world
// for a collection, and the process hangs. Open such files in a child
// process, or read the backing folder once the program using the mount has
// stopped cleanly.
//
// The file system holds one folder of regular files: no subfolders, links
// or special files, which is all a posagent store needs. It runs on Linux
// on amd64 and arm64 (go-fuse does not build for 32-bit ARM), as root (it
// calls mount(2) itself, without fusermount).
package lazyfs
