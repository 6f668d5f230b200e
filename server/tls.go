package server

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certificateCheckInterval is how often, at most, the certificate files'
// modification times are checked.
const certificateCheckInterval = 5 * time.Second

// certificateReloader serves a certificate from files and picks up renewed
// files (certbot, cert-manager) without a restart. It checks the files'
// modification times at most every checkInterval.
type certificateReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	checkInterval     time.Duration

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime time.Time
	checked time.Time
}

func newCertificateReloader(certFile, keyFile string, log *slog.Logger) (*certificateReloader, error) {
	r := &certificateReloader{certFile: certFile, keyFile: keyFile, log: log, checkInterval: certificateCheckInterval}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certificateReloader) load() error {
	// Stat before reading: files replaced in between are newer than the
	// recorded time and are loaded at the next check.
	modTime := r.latestModTime()
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	r.cert = &cert
	r.modTime = modTime
	return nil
}

func (r *certificateReloader) latestModTime() time.Time {
	var latest time.Time
	for _, f := range []string{r.certFile, r.keyFile} {
		if st, err := os.Stat(f); err == nil && st.ModTime().After(latest) {
			latest = st.ModTime()
		}
	}
	return latest
}

func (r *certificateReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= r.checkInterval {
		r.checked = now
		if r.latestModTime().After(r.modTime) {
			if err := r.load(); err != nil {
				r.log.Error("reloading TLS certificate; keeping the previous one", "err", err)
			} else {
				r.log.Info("reloaded TLS certificate", "cert", r.certFile)
			}
		}
	}
	return r.cert, nil
}
