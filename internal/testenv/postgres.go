package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// PostgresAdminURL is the local server the tests use; IMGPURGE_TEST_PG_URL
// overrides it. `make deps` starts it when it is not running.
func PostgresAdminURL() string {
	if u := os.Getenv("IMGPURGE_TEST_PG_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Postgres creates a fresh database on the local PostgreSQL server, drops it
// when the test ends, and returns its URL.
func Postgres(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("pgx", PostgresAdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		Missing(t, "PostgreSQL on 127.0.0.1:5432", "run `make deps`, which starts it ("+err.Error()+")")
		return ""
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "imgpurge_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable"
}
