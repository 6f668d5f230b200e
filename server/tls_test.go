package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/internal/testcert"
)

// newTestReloader loads dir/server.{crt,key} and checks the files on every
// handshake, so a test need not wait for the production interval.
func newTestReloader(t *testing.T, cert *testcert.Certificate) *certificateReloader {
	t.Helper()
	r, err := newCertificateReloader(cert.CertFile, cert.KeyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if r.checkInterval != 5*time.Second {
		t.Errorf("default check interval = %v, want 5s", r.checkInterval)
	}
	r.checkInterval = 0
	return r
}

// replace writes a new certificate over old's files, as certbot or
// cert-manager would. Their modification time is set a second past the
// files they replace, so the change is seen on filesystems with coarse
// timestamps too.
func replace(t *testing.T, old *testcert.Certificate, dir string) *testcert.Certificate {
	t.Helper()
	st, err := os.Stat(old.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	next := testcert.Write(t, dir, "server")
	setModTime(t, st.ModTime().Add(time.Second), next.CertFile, next.KeyFile)
	return next
}

// touchAfter sets the modification time of files to a second after ref's.
func touchAfter(t *testing.T, ref string, files ...string) {
	t.Helper()
	st, err := os.Stat(ref)
	if err != nil {
		t.Fatal(err)
	}
	setModTime(t, st.ModTime().Add(time.Second), files...)
}

func setModTime(t *testing.T, when time.Time, files ...string) {
	t.Helper()
	for _, f := range files {
		if err := os.Chtimes(f, when, when); err != nil {
			t.Fatal(err)
		}
	}
}

// servedSerial performs a TLS handshake with a listener serving through r
// and returns the serial number of the certificate a client is shown.
func servedSerial(t *testing.T, r *certificateReloader, roots *x509.CertPool) *big.Int {
	t.Helper()
	server, clientSide := net.Pipe()
	defer server.Close()
	defer clientSide.Close()
	done := make(chan error, 1)
	go func() {
		done <- tls.Server(server, &tls.Config{GetCertificate: r.get, MinVersion: tls.VersionTLS12}).Handshake()
	}()
	conn := tls.Client(clientSide, &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	if err := conn.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

// pool trusts every given certificate.
func pool(certs ...*testcert.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c.Leaf)
	}
	return p
}

func TestCertificateReloaderServesReplacedCertificate(t *testing.T) {
	dir := t.TempDir()
	first := testcert.Write(t, dir, "server")
	r := newTestReloader(t, first)
	if got := servedSerial(t, r, pool(first)); got.Cmp(first.Leaf.SerialNumber) != 0 {
		t.Fatalf("served serial %v, want the first certificate's %v", got, first.Leaf.SerialNumber)
	}

	second := replace(t, first, dir)
	if got := servedSerial(t, r, pool(first, second)); got.Cmp(second.Leaf.SerialNumber) != 0 {
		t.Fatalf("after replacing the files, served serial %v, want the new certificate's %v (old %v)",
			got, second.Leaf.SerialNumber, first.Leaf.SerialNumber)
	}
}

func TestCertificateReloaderChecksAtMostEveryInterval(t *testing.T) {
	dir := t.TempDir()
	first := testcert.Write(t, dir, "server")
	r := newTestReloader(t, first)
	r.checkInterval = time.Hour
	servedSerial(t, r, pool(first)) // records the time of the last check

	second := replace(t, first, dir)
	if got := servedSerial(t, r, pool(first, second)); got.Cmp(first.Leaf.SerialNumber) != 0 {
		t.Fatalf("within the check interval, served serial %v, want the old certificate's %v", got, first.Leaf.SerialNumber)
	}
	r.mu.Lock()
	r.checkInterval = 0
	r.mu.Unlock()
	if got := servedSerial(t, r, pool(first, second)); got.Cmp(second.Leaf.SerialNumber) != 0 {
		t.Fatalf("once the interval passed, served serial %v, want the new certificate's %v", got, second.Leaf.SerialNumber)
	}
}

// A renewal caught half-written, or a key that does not match, must not
// take the server down: the previous certificate stays until the files are
// whole again.
func TestCertificateReloaderKeepsPreviousOnBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	first := testcert.Write(t, dir, "server")
	r := newTestReloader(t, first)

	if err := os.WriteFile(first.CertFile, []byte("-----BEGIN CERTIFICATE-----\ntruncat"), 0o600); err != nil {
		t.Fatal(err)
	}
	touchAfter(t, first.KeyFile, first.CertFile)
	if got := servedSerial(t, r, pool(first)); got.Cmp(first.Leaf.SerialNumber) != 0 {
		t.Fatalf("with a broken certificate file, served serial %v, want the previous %v", got, first.Leaf.SerialNumber)
	}

	// Only the certificate renewed so far: it does not match the old key.
	other := testcert.Write(t, t.TempDir(), "server")
	raw, err := os.ReadFile(other.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(first.CertFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	touchAfter(t, first.KeyFile, first.CertFile)
	if got := servedSerial(t, r, pool(first, other)); got.Cmp(first.Leaf.SerialNumber) != 0 {
		t.Fatalf("with a mismatched key, served serial %v, want the previous %v", got, first.Leaf.SerialNumber)
	}

	// The whole renewal lands.
	second := replace(t, first, dir)
	if got := servedSerial(t, r, pool(first, second)); got.Cmp(second.Leaf.SerialNumber) != 0 {
		t.Fatalf("after a complete renewal, served serial %v, want %v", got, second.Leaf.SerialNumber)
	}
}

func TestCertificateReloaderRefusesMissingFiles(t *testing.T) {
	dir := t.TempDir()
	cert := testcert.Write(t, dir, "server")
	_, err := newCertificateReloader(cert.CertFile, dir+"/missing.key", slog.New(slog.DiscardHandler))
	if err == nil || !strings.HasPrefix(err.Error(), "tls: ") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing key file: got %v, want a tls: error wrapping not-exist", err)
	}
}

// Handshakes racing with renewals must always get a whole certificate.
func TestCertificateReloaderConcurrentRenewals(t *testing.T) {
	dir := t.TempDir()
	current := testcert.Write(t, dir, "server")
	r := newTestReloader(t, current)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				cert, err := r.get(nil)
				if err != nil || cert == nil || len(cert.Certificate) == 0 {
					t.Errorf("get: %v, %v", cert, err)
					return
				}
			}
		})
	}
	for range 20 {
		current = replace(t, current, dir)
	}
	close(stop)
	wg.Wait()
}
