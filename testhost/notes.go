package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"github.com/pocketbackup/pocketbackup/host/jsonapi"
)

// The notes demo collection.
const (
	notesCollectionID   = "pbc_notes000001"
	notesCollectionName = "notes"
	notesPath           = "/api/collections/notes/records"
)

// List paging, as PocketBase does it.
const (
	defaultPerPage = 30
	maxPerPage     = 1000
)

// maxPage bounds the page number so that the offset cannot overflow.
const maxPage = 1 << 40

// maxTitleLen bounds a note's title, in characters.
const maxTitleLen = 255

var recordIDPattern = regexp.MustCompile(`^[a-z0-9]{15}$`)

// noteSorts maps the sort fields a list accepts to their columns.
var noteSorts = map[string]string{
	"created": "created",
	"updated": "updated",
	"title":   "title",
	"id":      "id",
}

// note is a record of the notes collection as clients see it.
type note struct {
	ID             string `json:"id"`
	CollectionID   string `json:"collectionId"`
	CollectionName string `json:"collectionName"`
	Title          string `json:"title"`
	Body           string `json:"body"`
	Created        string `json:"created"`
	Updated        string `json:"updated"`
}

// noteList is PocketBase's paged list.
type noteList struct {
	Page       int    `json:"page"`
	PerPage    int    `json:"perPage"`
	TotalItems int    `json:"totalItems"`
	TotalPages int    `json:"totalPages"`
	Items      []note `json:"items"`
}

// noteInput is a create or update body.
type noteInput struct {
	ID    *string `json:"id"`
	Title *string `json:"title"`
	Body  *string `json:"body"`
}

// notesAPI serves the notes collection from data.db.
type notesAPI struct {
	db     *sql.DB
	logger *slog.Logger
}

// registerNotes adds the notes routes to r, each behind guard (the
// superuser check).
func registerNotes(r *httprouter.Router, api *notesAPI, guard func(httprouter.Handle) httprouter.Handle) {
	r.GET(notesPath, guard(api.list))
	r.POST(notesPath, guard(api.create))
	r.GET(notesPath+"/:id", guard(api.view))
	r.PATCH(notesPath+"/:id", guard(api.update))
	r.DELETE(notesPath+"/:id", guard(api.delete))
}

// fail logs err when it is not an API error and writes the client's error.
func (api *notesAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	var apiErr *jsonapi.Error
	if !errors.As(err, &apiErr) {
		api.logger.Error("notes request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	jsonapi.Write(w, err)
}

func (api *notesAPI) list(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q := r.URL.Query()
	if q.Get("filter") != "" {
		jsonapi.Write(w, jsonapi.BadRequest("Filters are not supported by the notes collection."))
		return
	}
	order, err := noteOrder(q.Get("sort"))
	if err != nil {
		jsonapi.Write(w, err)
		return
	}
	page := min(positiveInt(q.Get("page"), 1), maxPage)
	perPage := min(positiveInt(q.Get("perPage"), defaultPerPage), maxPerPage)
	skipTotal := isTrue(q.Get("skipTotal"))

	out := noteList{Page: page, PerPage: perPage, TotalItems: -1, TotalPages: -1, Items: []note{}}
	if !skipTotal {
		if err := api.db.QueryRowContext(r.Context(), `SELECT count(*) FROM notes`).Scan(&out.TotalItems); err != nil {
			api.fail(w, r, fmt.Errorf("count notes: %w", err))
			return
		}
		out.TotalPages = int(math.Ceil(float64(out.TotalItems) / float64(perPage)))
	}
	offset := int64(page-1) * int64(perPage)
	rows, err := api.db.QueryContext(r.Context(),
		`SELECT id, title, body, created, updated FROM notes ORDER BY `+order+` LIMIT ? OFFSET ?`,
		perPage, offset)
	if err != nil {
		api.fail(w, r, fmt.Errorf("list notes: %w", err))
		return
	}
	defer rows.Close()
	for rows.Next() {
		n, err := scanNote(rows)
		if err != nil {
			api.fail(w, r, err)
			return
		}
		out.Items = append(out.Items, n)
	}
	if err := rows.Err(); err != nil {
		api.fail(w, r, fmt.Errorf("list notes: %w", err))
		return
	}
	jsonapi.WriteJSON(w, http.StatusOK, out)
}

func (api *notesAPI) view(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	n, err := api.find(r.Context(), ps.ByName("id"))
	if err != nil {
		api.fail(w, r, err)
		return
	}
	jsonapi.WriteJSON(w, http.StatusOK, n)
}

func (api *notesAPI) create(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var in noteInput
	if err := jsonapi.ReadBody(r, &in); err != nil {
		jsonapi.Write(w, err)
		return
	}
	id := newID()
	if in.ID != nil && *in.ID != "" {
		id = *in.ID
		if !recordIDPattern.MatchString(id) {
			jsonapi.Write(w, jsonapi.Validation("id", "validation_invalid_format",
				"Must be 15 characters, lowercase letters and digits only."))
			return
		}
	}
	title, body := value(in.Title), value(in.Body)
	if err := validateNote(title); err != nil {
		jsonapi.Write(w, err)
		return
	}
	now := formatDate(time.Now())
	res, err := api.db.ExecContext(r.Context(),
		`INSERT INTO notes (id, title, body, created, updated) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
		id, title, body, now, now)
	if err != nil {
		api.fail(w, r, fmt.Errorf("create note: %w", err))
		return
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		jsonapi.Write(w, jsonapi.Validation("id", "validation_invalid_id", "The record id is invalid or already exists."))
		return
	}
	jsonapi.WriteJSON(w, http.StatusOK, note{
		ID: id, CollectionID: notesCollectionID, CollectionName: notesCollectionName,
		Title: title, Body: body, Created: now, Updated: now,
	})
}

func (api *notesAPI) update(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	var in noteInput
	if err := jsonapi.ReadBody(r, &in); err != nil {
		jsonapi.Write(w, err)
		return
	}
	id := ps.ByName("id")
	tx, err := api.db.BeginTx(r.Context(), nil)
	if err != nil {
		api.fail(w, r, fmt.Errorf("update note: %w", err))
		return
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	n, err := findNote(r.Context(), tx, id)
	if err != nil {
		api.fail(w, r, err)
		return
	}
	if in.Title != nil {
		n.Title = *in.Title
	}
	if in.Body != nil {
		n.Body = *in.Body
	}
	if err := validateNote(n.Title); err != nil {
		jsonapi.Write(w, err)
		return
	}
	n.Updated = formatDate(time.Now())
	if _, err := tx.ExecContext(r.Context(),
		`UPDATE notes SET title = ?, body = ?, updated = ? WHERE id = ?`, n.Title, n.Body, n.Updated, id); err != nil {
		api.fail(w, r, fmt.Errorf("update note: %w", err))
		return
	}
	if err := tx.Commit(); err != nil {
		api.fail(w, r, fmt.Errorf("update note: %w", err))
		return
	}
	jsonapi.WriteJSON(w, http.StatusOK, n)
}

func (api *notesAPI) delete(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	res, err := api.db.ExecContext(r.Context(), `DELETE FROM notes WHERE id = ?`, ps.ByName("id"))
	if err != nil {
		api.fail(w, r, fmt.Errorf("delete note: %w", err))
		return
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		jsonapi.Write(w, jsonapi.NotFound())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// find returns the note with id, or the 404 API error.
func (api *notesAPI) find(ctx context.Context, id string) (note, error) {
	return findNote(ctx, api.db, id)
}

// queryRower is a *sql.DB or *sql.Tx.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func findNote(ctx context.Context, q queryRower, id string) (note, error) {
	n, err := scanNote(q.QueryRowContext(ctx, `SELECT id, title, body, created, updated FROM notes WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return note{}, jsonapi.NotFound()
	}
	return n, err
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanNote(s scanner) (note, error) {
	n := note{CollectionID: notesCollectionID, CollectionName: notesCollectionName}
	if err := s.Scan(&n.ID, &n.Title, &n.Body, &n.Created, &n.Updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return note{}, err
		}
		return note{}, fmt.Errorf("read note: %w", err)
	}
	return n, nil
}

// validateNote checks the fields of a note about to be saved.
func validateNote(title string) error {
	if utf8.RuneCountInString(title) > maxTitleLen {
		return jsonapi.Validation("title", "validation_max_text_constraint",
			fmt.Sprintf("Must be less than %d character(s).", maxTitleLen))
	}
	return nil
}

// noteOrder turns a PocketBase sort expression ("-created,title") into an
// ORDER BY clause; the default is newest first. Unknown fields are a 400.
func noteOrder(sort string) (string, error) {
	if strings.TrimSpace(sort) == "" {
		sort = "-created"
	}
	var terms []string
	for _, field := range strings.Split(sort, ",") {
		field = strings.TrimSpace(field)
		dir := "ASC"
		switch {
		case strings.HasPrefix(field, "-"):
			dir, field = "DESC", field[1:]
		case strings.HasPrefix(field, "+"):
			field = field[1:]
		}
		col, ok := noteSorts[field]
		if !ok {
			return "", jsonapi.Validation("sort", "validation_invalid_sort", "Unknown sort field.")
		}
		terms = append(terms, col+" "+dir)
	}
	// rowid breaks ties (same millisecond) in insertion order, newest first.
	return strings.Join(terms, ", ") + ", rowid DESC", nil
}

// positiveInt parses s, returning def when it is missing, malformed or
// below 1.
func positiveInt(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return def
	}
	return n
}

// isTrue reads a boolean query value as PocketBase does ("1", "true").
func isTrue(s string) bool {
	b, err := strconv.ParseBool(s)
	return err == nil && b
}

func value(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
