/// The registry's API in OpenAPI 3.1, served at /openapi.yaml; docs/openapi.yaml is the committed copy
/// (`ektp-registry openapi > docs/openapi.yaml`; a test fails when they differ).
public enum OpenAPIDocument {
    public static let yaml = #"""
openapi: 3.1.0
info:
  title: ektp-registry
  version: 0.1.0
  description: |
    The central registry of e-KTP enrolment stations. Stations POST their reports (events and status
    snapshots, numbered in each station's own sequence); the centre reads which sites cannot enrol and
    why, which are silent, which have not been pulled, and card blank stock.
    JSON keys are snake_case; times are RFC 3339 UTC; absent values are omitted.
    Every refusal is a 4xx with {"error": "..."} naming the field or header at fault.
paths:
  /v1/reports:
    post:
      summary: Store a batch of one station's reports (idempotent per station and sequence)
      description: |
        Reports already stored are counted as duplicates and not stored again, so a station re-sends a
        batch whenever it is unsure. Batches may arrive out of order and with gaps (coalesced snapshots,
        unused numbers); each report is stored by its sequence. The reply's stored_through is the highest
        sequence the registry holds for the station: the station forgets everything up to it. At most
        1000 reports and 8 MiB per batch; the body may be gzip'd (Content-Encoding: gzip). When the
        registry is taking all the writes it can, 429 with Retry-After (seconds): come back then, with jitter.
        The Retry-After gives each refused station a place in line at the rate the registry stores, sized by
        the batches it says it still has (Ektp-Pending), so that once let in it sends them all.
      security: [{bearer: []}]
      parameters:
        - name: Ektp-Pending
          in: header
          required: false
          description: Reports the station has left to send, this batch's included (taken as batches of Ektp-Batch-Size); absent or unreadable counts as one batch
          schema: {type: integer, minimum: 1}
        - name: Ektp-Batch-Size
          in: header
          required: false
          description: Reports in each batch the station sends (its registry.batch_size); absent or unreadable counts as 200
          schema: {type: integer, minimum: 1, maximum: 1000}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/ReportBatch'}
      responses:
        '200':
          description: Stored
          content:
            application/json:
              schema: {$ref: '#/components/schemas/IngestReply'}
        '400': {$ref: '#/components/responses/Error'}
        '401': {$ref: '#/components/responses/Error'}
        '403': {$ref: '#/components/responses/Error'}
        '409': {$ref: '#/components/responses/Error'}
        '413': {$ref: '#/components/responses/Error'}
        '429': {$ref: '#/components/responses/Error'}
        '503': {$ref: '#/components/responses/Error'}
  /v1/reports/stored:
    get:
      summary: Which of the caller's own sequences the registry holds, as closed ranges
      description: |
        A station asks before sending, so that what reached the registry by courier (a bundle) is
        forgotten without being sent again. With a station token only.
      security: [{bearer: []}]
      parameters:
        - {name: from, in: query, required: true, schema: {type: integer, minimum: 1, maximum: 9007199254740992}}
        - {name: to, in: query, required: true, schema: {type: integer, minimum: 1, maximum: 9007199254740992}}
      responses:
        '200':
          description: The ranges held
          content:
            application/json:
              schema: {$ref: '#/components/schemas/StoredRanges'}
        '400': {$ref: '#/components/responses/Error'}
        '401': {$ref: '#/components/responses/Error'}
        '403': {$ref: '#/components/responses/Error'}
  /v1/bundles:
    post:
      summary: Import a courier bundle (ektpd export), checked whole
      description: |
        The body is the bundle file (gzip; at most 64 MiB). With a courier token (its regency's
        stations) or the station's own token. Checked whole (gzip, every report's checksum, the
        station's registered Ed25519 key and signature, the courier's regency) and stored through the
        same idempotent path as online delivery. 200 imported (new and already-known counts), 202 held
        for review (the registry has no key for the station), 422 refused with the reason (nothing stored).
      security: [{bearer: []}]
      requestBody:
        required: true
        content:
          application/octet-stream:
            schema: {type: string, format: binary}
      responses:
        '200':
          description: Imported
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ImportOutcome'}
        '202':
          description: Held for review
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ImportOutcome'}
        '401': {$ref: '#/components/responses/Error'}
        '413': {$ref: '#/components/responses/Error'}
        '429': {$ref: '#/components/responses/Error'}
        '422':
          description: Refused whole, nothing stored
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ImportOutcome'}
        '503': {$ref: '#/components/responses/Error'}
  /v1/fleet:
    get:
      summary: The fleet by province, regency and district, with card blank stock
      description: >-
        Only the stations inside the reader's scope (national, a province or a regency); a station's token reads nothing.
        The counts come from the registry's in-memory fleet index, loaded from the database as each minute begins and
        updated by each ingest it takes: another registry on the same database (scale-out) shows its writes within the
        minute, with or without `at`. Without `at`, the fleet now: built at most once a minute per scope, and again
        after each ingest this registry takes.
      security: [{viewer: []}, {session: []}]
      parameters:
        - {$ref: '#/components/parameters/At'}
      responses:
        '200':
          description: Summary
          content:
            application/json:
              schema: {$ref: '#/components/schemas/FleetSummary'}
        '400': {$ref: '#/components/responses/Error'}
        '401': {$ref: '#/components/responses/Error'}
        '403': {$ref: '#/components/responses/Error'}
  /v1/sites:
    get:
      summary: Stations in a condition, each with its reasons
      description: Only the stations inside the reader's scope (national, a province or a regency); a station's token reads nothing.
      security: [{viewer: []}, {session: []}]
      parameters:
        - name: status
          in: query
          schema: {type: string, enum: [all, ready, degraded, broken, unknown, silent, unpulled, skewed], default: all}
        - {$ref: '#/components/parameters/At'}
      responses:
        '200':
          description: Sites
          content:
            application/json:
              schema: {$ref: '#/components/schemas/SitesReply'}
        '400': {$ref: '#/components/responses/Error'}
        '401': {$ref: '#/components/responses/Error'}
        '403': {$ref: '#/components/responses/Error'}
  /v1/stations/{id}:
    get:
      summary: One station with its latest snapshot (devices and all) and recent events
      description: Only the stations inside the reader's scope (national, a province or a regency); a station's token reads nothing.
      security: [{viewer: []}, {session: []}]
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {$ref: '#/components/parameters/At'}
      responses:
        '200':
          description: Station
          content:
            application/json:
              schema: {$ref: '#/components/schemas/StationDetail'}
        '400': {$ref: '#/components/responses/Error'}
        '401': {$ref: '#/components/responses/Error'}
        '403': {$ref: '#/components/responses/Error'}
        '404': {$ref: '#/components/responses/Error'}
  /v1/events:
    get:
      summary: Events in the order the registry stored them
      description: Only the stations inside the reader's scope (national, a province or a regency); a station's token reads nothing.
      security: [{viewer: []}, {session: []}]
      parameters:
        - {name: since, in: query, description: 'a registry event id (next from the previous page)', schema: {type: integer, minimum: 0, maximum: 9223372036854775807, default: 0}}
        - {name: station, in: query, schema: {type: string}}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 5000, default: 500}}
      responses:
        '200':
          description: Events
          content:
            application/json:
              schema: {$ref: '#/components/schemas/EventsReply'}
        '400': {$ref: '#/components/responses/Error'}
        '401': {$ref: '#/components/responses/Error'}
        '403': {$ref: '#/components/responses/Error'}
  /openapi.yaml:
    get:
      summary: This document
      responses:
        '200': {description: OpenAPI document, content: {application/yaml: {}}}
  /healthz:
    get:
      summary: The registry and its database answer
      responses:
        '200': {description: ok, content: {text/plain: {}}}
        '503': {$ref: '#/components/responses/Error'}
  /metrics:
    get:
      summary: Prometheus metrics (text format 0.0.4)
      description: >-
        ektp_registry_stations{condition}, ektp_registry_regency_stations{province,regency,condition},
        ektp_registry_stations_silent, ektp_registry_stations_not_pulled, ektp_registry_card_blanks,
        ektp_registry_stock_days_left{station}, ektp_registry_ingest_requests_total{result},
        ektp_registry_ingest_refused_again_total, ektp_registry_reports_stored_total, ektp_registry_reports_duplicate_total.
      security: [{scrape: []}, {viewer: []}, {session: []}]
      parameters: [{$ref: '#/components/parameters/At'}]
      responses:
        '200': {description: the metrics, content: {text/plain: {}}}
        '400': {$ref: '#/components/responses/Error'}
        '401': {$ref: '#/components/responses/Error'}
        '403': {$ref: '#/components/responses/Error'}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer, description: 'ektp-registry token issue --station ID'}
    viewer: {type: http, scheme: bearer, description: 'a reader of a scope: ektp-registry token issue --viewer NAME [--province P [--regency R]]'}
    scrape: {type: http, scheme: bearer, description: 'Prometheus: ektp-registry token issue --scrape NAME (reads /metrics only, or a national viewer)'}
    session: {type: apiKey, in: cookie, name: ektp_session, description: 'a dashboard login (ektp-registry user add NAME)'}
  parameters:
    At:
      name: at
      in: query
      description: judge silence and stock at this time (RFC 3339, years 1970 to 9999); default now
      schema: {$ref: '#/components/schemas/Time'}
  responses:
    Error:
      description: The request was refused; the message names the problem and where it is
      content:
        application/json:
          schema:
            type: object
            required: [error]
            properties: {error: {type: string}}
  schemas:
    Time:
      type: string
      format: date-time
      description: RFC 3339, years 1970 to 9999, a date that exists; any number of fractional digits (kept to the millisecond)
      pattern: '^(19[7-9][0-9]|[2-9][0-9]{3})-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$'
    StationID: {type: string, pattern: '^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}$'}
    Name: {type: string, maxLength: 200}
    Count: {type: integer, minimum: 0, maximum: 9007199254740992}
    Site:
      type: object
      required: [province, regency, district]
      properties: {province: {$ref: '#/components/schemas/Name'}, regency: {$ref: '#/components/schemas/Name'}, district: {$ref: '#/components/schemas/Name'}}
    ReportBatch:
      type: object
      required: [station, sent_at, reports]
      properties:
        station: {$ref: '#/components/schemas/StationID'}
        sent_at: {$ref: '#/components/schemas/Time'}
        public_key: {type: string, description: "the station's Ed25519 public key, 32 bytes in base64; the first one sent is kept", pattern: '^[A-Za-z0-9+/]{43}=$'}
        reports:
          type: array
          minItems: 1
          maxItems: 1000
          items: {$ref: '#/components/schemas/Report'}
    Report:
      description: kind event carries event (and no status); kind snapshot carries status (and no event). Reports may come in any order; a number repeated in a batch counts once.
      oneOf:
        - {$ref: '#/components/schemas/EventReport'}
        - {$ref: '#/components/schemas/SnapshotReport'}
      discriminator:
        propertyName: kind
        mapping: {event: '#/components/schemas/EventReport', snapshot: '#/components/schemas/SnapshotReport'}
    EventReport:
      type: object
      required: [sequence, kind, time, event]
      properties:
        sequence: {type: integer, minimum: 1, maximum: 9007199254740992}
        kind: {type: string, enum: [event]}
        time: {$ref: '#/components/schemas/Time'}
        event: {$ref: '#/components/schemas/Event'}
      not: {required: [status]}
    SnapshotReport:
      type: object
      required: [sequence, kind, time, status]
      properties:
        sequence: {type: integer, minimum: 1, maximum: 9007199254740992}
        kind: {type: string, enum: [snapshot]}
        time: {$ref: '#/components/schemas/Time'}
        status: {$ref: '#/components/schemas/StationStatus'}
      not: {required: [event]}
    Kind: {type: string, enum: [fingerprint, iris, camera, signature_pad, card_printer, card_reader, other]}
    Event:
      type: object
      description: sequence, when given, equals its report's (409 when it differs); station is the token's (403)
      required: [sequence, time, station, type, subject]
      properties:
        sequence: {type: integer, minimum: 1, maximum: 9007199254740992}
        time: {$ref: '#/components/schemas/Time'}
        station: {$ref: '#/components/schemas/StationID'}
        type:
          type: string
          enum: [device.added, device.removed, device.health, device.flapping, kit.status, daemon, server.state,
                 server.restart, sync.state, uplink.reachability, uplink.route, power.source, power.battery, stock.level,
                 outbox, clock.step]
        subject: {type: string}
        kind: {$ref: '#/components/schemas/Kind'}
        device_name: {type: string}
        from: {type: string}
        to: {type: string}
        reason: {type: string, description: 'in English, always'}
        code: {type: string, description: 'the reason as a code (device.not_on_bus, ...), for readers in other languages'}
        args: {type: object, additionalProperties: {type: string}, description: "the code's parameters ({port: 1-1})"}
    DeviceStatus:
      type: object
      required: [device, health, flapping, since]
      properties:
        device:
          type: object
          required: [id, kind, kind_source, vendor_id, product_id, name, port_path, bus_number, device_number, speed, capabilities, nodes]
          properties:
            id: {type: string}
            kind: {$ref: '#/components/schemas/Kind'}
            kind_source: {type: string}
            vendor_id: {type: string}
            product_id: {type: string}
            name: {type: string}
            manufacturer: {type: string}
            serial: {type: string}
            port_path: {type: string}
            bus_number: {type: integer, minimum: 0, maximum: 65535}
            device_number: {type: integer, minimum: 0, maximum: 65535}
            speed: {$ref: '#/components/schemas/Speed'}
            capabilities:
              type: object
              required: [interface_classes]
              properties:
                interface_classes: {type: array, items: {type: integer, minimum: 0, maximum: 255}}
                max_speed: {$ref: '#/components/schemas/Speed'}
            nodes: {type: array, items: {type: string}}
        health: {type: string, enum: [ok, degraded, failed, missing, unknown]}
        flapping: {type: boolean}
        since: {$ref: '#/components/schemas/Time'}
        reason: {type: string}
        code: {type: integer, enum: [103, 106, 110, 111, 201, 202, 203, 210, 211, 212, 213, 220, 221, 230]}
        last_probe: {$ref: '#/components/schemas/Time'}
        blanks_remaining: {type: integer, minimum: 0, maximum: 10000000}
    Speed: {type: string, enum: [low, full, high, super, super_plus, unknown]}
    StationStatus:
      type: object
      description: What `ektpd status --json` prints
      required: [station, site, backend, kit, devices, last_sequence, started_at, now, version]
      properties:
        station: {$ref: '#/components/schemas/StationID'}
        site: {$ref: '#/components/schemas/Site'}
        backend: {type: string}
        kit:
          type: object
          required: [state, problems, since]
          properties:
            state: {type: string, enum: [ready, degraded, broken]}
            problems:
              type: array
              items:
                type: object
                required: [kind, severity, reason]
                properties:
                  kind: {$ref: '#/components/schemas/Kind'}
                  device: {type: string}
                  severity: {type: string, enum: [ready, degraded, broken]}
                  reason: {type: string, description: 'in English, always'}
                  code: {type: string, description: 'the reason as a code (device.unplugged, kit.none_connected, ...)'}
                  args: {type: object, additionalProperties: {type: string}, description: "the code's parameters ({kind, name, port})"}
            since: {$ref: '#/components/schemas/Time'}
        devices: {type: array, items: {$ref: '#/components/schemas/DeviceStatus'}}
        last_sequence: {$ref: '#/components/schemas/Count'}
        started_at: {$ref: '#/components/schemas/Time'}
        now: {$ref: '#/components/schemas/Time'}
        version: {type: string}
        server:
          type: object
          required: [name, state, since, restarts, availability]
          properties:
            name: {type: string}
            state: {type: string, enum: [starting, up, unhealthy, restarting, crash_loop, stopped]}
            since: {$ref: '#/components/schemas/Time'}
            pid: {type: integer, minimum: 0, maximum: 2147483647}
            restarts: {type: integer, minimum: 0, maximum: 2147483647}
            last_reason: {type: string}
            next_start_at: {$ref: '#/components/schemas/Time'}
            availability:
              type: object
              required: [last24h, last7d, observed24h_seconds, observed7d_seconds]
              properties:
                last24h: {type: number, minimum: 0, maximum: 1}
                last7d: {type: number, minimum: 0, maximum: 1}
                observed24h_seconds: {type: integer, minimum: 0, maximum: 604800}
                observed7d_seconds: {type: integer, minimum: 0, maximum: 604800}
        sync:
          type: object
          required: [state, limit_seconds]
          properties:
            state: {type: string, enum: [fresh, stale, never, unknown]}
            last_pull: {$ref: '#/components/schemas/Time'}
            limit_seconds: {type: integer, minimum: 0, maximum: 315360000}
            reason: {type: string}
        uplink:
          type: object
          required: [targets]
          properties:
            default_interface: {type: string}
            targets:
              type: array
              items:
                type: object
                required: [name, address, since]
                properties:
                  name: {type: string}
                  address: {type: string}
                  reachable: {type: boolean}
                  latency_millis: {type: number, minimum: 0, maximum: 1000000}
                  since: {$ref: '#/components/schemas/Time'}
                  reason: {type: string}
        power:
          type: object
          required: [battery_low, since]
          properties:
            on_mains: {type: boolean}
            battery_percent: {type: integer, minimum: 0, maximum: 100}
            battery_low: {type: boolean}
            since: {$ref: '#/components/schemas/Time'}
        delivery:
          type: object
          required: [registry, pending, stored_through, failures, over_limit]
          properties:
            registry: {type: string}
            pending: {$ref: '#/components/schemas/Count'}
            stored_through: {$ref: '#/components/schemas/Count'}
            last_delivery: {$ref: '#/components/schemas/Time'}
            last_error: {type: string}
            failures: {type: integer, minimum: 0, maximum: 2147483647}
            next_attempt: {$ref: '#/components/schemas/Time'}
            over_limit: {type: boolean}
        outbox:
          type: object
          description: whether the station's outbox can be written, and what it holds in memory while the disk refuses
          required: [path, writable, held, hold_limit, dropped]
          properties:
            path: {type: string}
            writable: {type: boolean}
            error: {type: string}
            held: {$ref: '#/components/schemas/Count'}
            hold_limit: {$ref: '#/components/schemas/Count'}
            dropped: {$ref: '#/components/schemas/Count'}
            since: {$ref: '#/components/schemas/Time'}
        stock:
          type: object
          required: [blanks, source, updated_at]
          properties:
            blanks: {type: integer, minimum: 0, maximum: 10000000}
            source: {type: string, enum: [printer, operator]}
            updated_at: {$ref: '#/components/schemas/Time'}
    IngestReply:
      type: object
      required: [station, stored_through, stored, duplicates]
      properties:
        station: {type: string}
        stored_through: {type: integer}
        stored: {type: integer}
        duplicates: {type: integer}
    Tally:
      type: object
      required: [stations, ready, degraded, broken, unknown, silent, not_pulled, blanks, clock_skewed]
      properties:
        stations: {type: integer}
        ready: {type: integer}
        degraded: {type: integer}
        broken: {type: integer}
        unknown: {type: integer}
        silent: {type: integer}
        not_pulled: {type: integer}
        blanks: {type: integer}
        clock_skewed: {type: integer, description: stations whose clock is off from the registry's by more than 5 minutes}
    FleetSummary:
      type: object
      required: [at, silent_after_seconds, tally, provinces, stock]
      properties:
        at: {$ref: '#/components/schemas/Time'}
        silent_after_seconds: {type: integer}
        tally: {$ref: '#/components/schemas/Tally'}
        provinces:
          type: array
          items:
            type: object
            required: [name, tally, regencies]
            properties:
              name: {type: string}
              tally: {$ref: '#/components/schemas/Tally'}
              regencies:
                type: array
                items:
                  type: object
                  required: [name, tally, districts]
                  properties:
                    name: {type: string}
                    tally: {$ref: '#/components/schemas/Tally'}
                    districts:
                      type: array
                      items:
                        type: object
                        required: [name, tally]
                        properties: {name: {type: string}, tally: {$ref: '#/components/schemas/Tally'}}
        stock: {type: array, items: {$ref: '#/components/schemas/StockView'}}
    StockView:
      type: object
      required: [station, site, blanks, source, updated_at, printers, printers_working]
      properties:
        station: {type: string}
        site: {$ref: '#/components/schemas/Site'}
        blanks: {type: integer}
        source: {type: string, enum: [printer, operator]}
        updated_at: {$ref: '#/components/schemas/Time'}
        per_day: {type: number, description: blanks used per day over the last 7 days}
        days_left: {type: number}
        printers: {type: integer}
        printers_working: {type: integer}
    SiteView:
      type: object
      required: [station, site, condition, reasons, silent, not_pulled, stored_through, clock_skewed]
      properties:
        station: {type: string}
        site: {$ref: '#/components/schemas/Site'}
        condition: {type: string, enum: [ready, degraded, broken, unknown]}
        reasons: {type: array, items: {type: string}}
        condition_since: {$ref: '#/components/schemas/Time'}
        last_heard: {$ref: '#/components/schemas/Time'}
        silent: {type: boolean}
        sync: {type: string, enum: [fresh, stale, never, unknown]}
        last_pull: {$ref: '#/components/schemas/Time'}
        not_pulled: {type: boolean}
        server: {type: string}
        availability24h: {type: number}
        on_mains: {type: boolean}
        blanks: {type: integer}
        stored_through: {type: integer}
        clock_skew_seconds: {type: integer, description: "the station's clock minus the registry's at its last delivery"}
        clock_skewed: {type: boolean, description: off by more than 5 minutes either way}
        last_online: {$ref: '#/components/schemas/Time'}
        last_courier: {$ref: '#/components/schemas/Time'}
        courier_news_until: {$ref: '#/components/schemas/Time'}
    SitesReply:
      type: object
      required: [at, status, sites]
      properties:
        at: {$ref: '#/components/schemas/Time'}
        status: {type: string}
        sites: {type: array, items: {$ref: '#/components/schemas/SiteView'}}
    StoredRanges:
      type: object
      required: [station, ranges]
      properties:
        station: {$ref: '#/components/schemas/StationID'}
        ranges:
          type: array
          items: {type: array, items: {type: integer}, minItems: 2, maxItems: 2}
    ImportOutcome:
      type: object
      required: [result]
      properties:
        result: {type: string, enum: [imported, pending, refused]}
        station: {type: string}
        first_sequence: {type: integer}
        last_sequence: {type: integer}
        reports: {type: integer}
        stored: {type: integer}
        known: {type: integer}
        reason: {type: string}
        fingerprint: {type: string}
    StationDetail:
      type: object
      required: [view, recent_events, reports_stored]
      properties:
        reports_stored: {type: integer, description: reports (events and snapshots) held for the station}
        public_key_fingerprint: {type: string, description: "SHA256:... of the key its bundles are checked with"}
        view: {$ref: '#/components/schemas/SiteView'}
        status: {$ref: '#/components/schemas/StationStatus'}
        recent_events: {type: array, items: {$ref: '#/components/schemas/Event'}}
    EventsReply:
      type: object
      required: [events, next]
      properties:
        events:
          type: array
          items:
            type: object
            required: [id, received_at, event]
            properties:
              id: {type: integer}
              received_at: {$ref: '#/components/schemas/Time'}
              event: {$ref: '#/components/schemas/Event'}
        next: {type: integer}

"""#
}
