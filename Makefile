# ektpd: build and install.
#   make                       release build
#   make install               into / (as root): binary, units, udev rules, sysusers, default config
#   make install DESTDIR=/tmp/stage PREFIX=/usr
#   make deb                   a Debian package in dist/ (dpkg-deb)
PREFIX      ?= /usr
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share/ektpd
DOCDIR      ?= $(PREFIX)/share/doc/ektpd
SYSCONFDIR  ?= /etc
UNITDIR     ?= /lib/systemd/system
UDEVRULESDIR ?= /lib/udev/rules.d
SYSUSERSDIR ?= /usr/lib/sysusers.d
LOCALEDIR   ?= $(PREFIX)/share/locale
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
SWIFT       ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
SCRATCH     ?= .build-release
CONFIG      ?= release
BIN          = $(SCRATCH)/$(CONFIG)/ektpd
REGISTRY_BIN = $(SCRATCH)/$(CONFIG)/ektp-registry

.PHONY: all build install uninstall deb check-units test
all: build

build:
	$(SWIFT) build -c $(CONFIG) --product ektpd --scratch-path $(SCRATCH)
	$(SWIFT) build -c $(CONFIG) --product ektp-registry --scratch-path $(SCRATCH)

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/ektpd
	install -D -m 0755 $(REGISTRY_BIN) $(DESTDIR)$(BINDIR)/ektp-registry
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed 's|/usr/bin/|$(BINDIR)/|g' systemd/ektpd.service > $(DESTDIR)$(UNITDIR)/ektpd.service
	sed 's|/usr/bin/|$(BINDIR)/|g' systemd/ektp-registry.service > $(DESTDIR)$(UNITDIR)/ektp-registry.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/ektpd.service $(DESTDIR)$(UNITDIR)/ektp-registry.service
	install -D -m 0644 udev-rules/70-ektp-kit.rules $(DESTDIR)$(UDEVRULESDIR)/70-ektp-kit.rules
	install -D -m 0644 sysusers/ektpd.conf $(DESTDIR)$(SYSUSERSDIR)/ektpd.conf
	install -D -m 0644 data/catalogue.txt $(DESTDIR)$(DATADIR)/catalogue.txt
	install -d -m 0755 $(DESTDIR)$(DATADIR)/scenarios $(DESTDIR)$(SYSCONFDIR)/ektpd/catalogue.d $(DESTDIR)$(SYSCONFDIR)/ektpd/hooks.d
	install -D -m 0755 examples/hooks.d/50-log-alert $(DESTDIR)$(DOCDIR)/examples/hooks.d/50-log-alert
	install -D -m 0644 examples/prometheus/ektp-alerts.yml $(DESTDIR)$(DOCDIR)/examples/prometheus/ektp-alerts.yml
	install -m 0644 scenarios/*.yaml $(DESTDIR)$(DATADIR)/scenarios/
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	# manual pages (man/: ektpd(8) and ektp-registry(8) from the argument parser, ektpd.yaml(5)), gzip'd as Debian ships them
	install -d -m 0755 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	gzip -9n < man/ektpd.8 > $(DESTDIR)$(MANDIR)/man8/ektpd.8.gz
	gzip -9n < man/ektp-registry.8 > $(DESTDIR)$(MANDIR)/man8/ektp-registry.8.gz
	gzip -9n < man/ektpd.yaml.5 > $(DESTDIR)$(MANDIR)/man5/ektpd.yaml.5.gz
	install -d -m 0755 $(DESTDIR)$(MANDIR)/id/man5
	gzip -9n < man/id/ektpd.yaml.5 > $(DESTDIR)$(MANDIR)/id/man5/ektpd.yaml.5.gz
	# shell completions, written by the binaries themselves (swift-argument-parser)
	install -d -m 0755 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	for tool in ektpd ektp-registry; do \
	  $(SCRATCH)/$(CONFIG)/$$tool --generate-completion-script bash > $(DESTDIR)$(BASHCOMPDIR)/$$tool; \
	  $(SCRATCH)/$(CONFIG)/$$tool --generate-completion-script zsh > $(DESTDIR)$(ZSHCOMPDIR)/_$$tool; \
	  $(SCRATCH)/$(CONFIG)/$$tool --generate-completion-script fish > $(DESTDIR)$(FISHCOMPDIR)/$$tool.fish; done
	# message catalogues (gettext): po/LANG.po -> LOCALEDIR/LANG/LC_MESSAGES/ektpd.mo
	for po in po/*.po; do lang=$$(basename $$po .po); install -d -m 0755 $(DESTDIR)$(LOCALEDIR)/$$lang/LC_MESSAGES; \
	  msgfmt -o $(DESTDIR)$(LOCALEDIR)/$$lang/LC_MESSAGES/ektpd.mo $$po; done
	# never overwrite a station's own config
	[ -e $(DESTDIR)$(SYSCONFDIR)/ektpd/ektpd.yaml ] || install -D -m 0640 packaging/ektpd.yaml $(DESTDIR)$(SYSCONFDIR)/ektpd/ektpd.yaml
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	  systemd-sysusers $(SYSUSERSDIR)/ektpd.conf || true; \
	  chgrp ektp $(SYSCONFDIR)/ektpd/ektpd.yaml || true; \
	  udevadm control --reload 2>/dev/null || true; \
	  systemctl daemon-reload 2>/dev/null || true; \
	  echo "installed: edit $(SYSCONFDIR)/ektpd/ektpd.yaml, then: systemctl enable --now ektpd"; \
	fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ektpd $(DESTDIR)$(BINDIR)/ektp-registry $(DESTDIR)$(UNITDIR)/ektpd.service $(DESTDIR)$(UNITDIR)/ektp-registry.service \
	  $(DESTDIR)$(UDEVRULESDIR)/70-ektp-kit.rules $(DESTDIR)$(SYSUSERSDIR)/ektpd.conf
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(LOCALEDIR)/*/LC_MESSAGES/ektpd.mo $(DESTDIR)$(MANDIR)/man8/ektpd.8.gz $(DESTDIR)$(MANDIR)/man8/ektp-registry.8.gz \
	  $(DESTDIR)$(MANDIR)/man5/ektpd.yaml.5.gz $(DESTDIR)$(MANDIR)/id/man5/ektpd.yaml.5.gz $(DESTDIR)$(BASHCOMPDIR)/ektpd $(DESTDIR)$(BASHCOMPDIR)/ektp-registry \
	  $(DESTDIR)$(ZSHCOMPDIR)/_ektpd $(DESTDIR)$(ZSHCOMPDIR)/_ektp-registry $(DESTDIR)$(FISHCOMPDIR)/ektpd.fish $(DESTDIR)$(FISHCOMPDIR)/ektp-registry.fish

deb:
	scripts/build-deb.sh

# The units as installed: systemd-analyze verify against a staged root, and the exposure scores.
check-units:
	scripts/check-units.sh

test:
	scripts/test.sh
