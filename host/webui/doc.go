// Package webui serves the backups page: the browser's way to everything the
// Backups REST API offers (sign-in, list, create, upload, download, delete,
// restore, schedule and S3 settings, live progress, the last outcome) and
// what this project adds to it (digests, verify, pins, encryption,
// retention with its preview, pre-restore backups, backup freshness).
//
// The page is plain HTML, CSS and JavaScript modules embedded in the binary:
// no build step, no CDN, no third-party code, so what is served is what is in
// the tree. The files are public and hold no secrets; every API call the page
// makes carries the signed-in superuser's token, kept by the browser.
//
// Every answer carries strict headers (a Content-Security-Policy allowing no
// inline script or style, nosniff, no referrer, no framing) and an ETag made
// from the file's content, so browsers revalidate cheaply and never run a
// stale script after an upgrade.
package webui
