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
        1000 reports and 8 MiB per batch.
      security: [{bearer: []}]
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
        '413': {$ref: '#/components/responses/Error'}
  /v1/fleet:
    get:
      summary: The fleet by province, regency and district, with card blank stock
      parameters:
        - {$ref: '#/components/parameters/At'}
      responses:
        '200':
          description: Summary
          content:
            application/json:
              schema: {$ref: '#/components/schemas/FleetSummary'}
        '400': {$ref: '#/components/responses/Error'}
  /v1/sites:
    get:
      summary: Stations in a condition, each with its reasons
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
  /v1/stations/{id}:
    get:
      summary: One station with its latest snapshot (devices and all) and recent events
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
        - {$ref: '#/components/parameters/At'}
      responses:
        '200':
          description: Station
          content:
            application/json:
              schema: {$ref: '#/components/schemas/StationDetail'}
        '404': {$ref: '#/components/responses/Error'}
  /v1/events:
    get:
      summary: Events in the order the registry stored them
      parameters:
        - {name: since, in: query, description: 'a registry event id (next from the previous page)', schema: {type: integer, minimum: 0, default: 0}}
        - {name: station, in: query, schema: {type: string}}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 5000, default: 500}}
      responses:
        '200':
          description: Events
          content:
            application/json:
              schema: {$ref: '#/components/schemas/EventsReply'}
        '400': {$ref: '#/components/responses/Error'}
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
  /metrics:
    get:
      summary: Prometheus metrics (text format 0.0.4)
      description: >-
        ektp_registry_stations{condition}, ektp_registry_regency_stations{province,regency,condition},
        ektp_registry_stations_silent, ektp_registry_stations_not_pulled, ektp_registry_card_blanks,
        ektp_registry_stock_days_left{station}, ektp_registry_ingest_requests_total{result},
        ektp_registry_reports_stored_total, ektp_registry_reports_duplicate_total.
      parameters: [{$ref: '#/components/parameters/At'}]
      responses:
        '200': {description: the metrics, content: {text/plain: {}}}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer, description: 'ektp-registry token issue --station ID'}
  parameters:
    At:
      name: at
      in: query
      description: judge silence and stock at this time (RFC 3339); default now
      schema: {type: string, format: date-time}
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
    Time: {type: string, format: date-time}
    Site:
      type: object
      required: [province, regency, district]
      properties: {province: {type: string}, regency: {type: string}, district: {type: string}}
    ReportBatch:
      type: object
      required: [station, sent_at, reports]
      properties:
        station: {type: string}
        sent_at: {$ref: '#/components/schemas/Time'}
        reports:
          type: array
          minItems: 1
          maxItems: 1000
          items: {$ref: '#/components/schemas/Report'}
    Report:
      description: kind event carries event (and no status); kind snapshot carries status (and no event). Sequences increase within a batch.
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
    Event:
      type: object
      required: [sequence, time, station, type, subject]
      properties:
        sequence: {type: integer}
        time: {$ref: '#/components/schemas/Time'}
        station: {type: string}
        type:
          type: string
          enum: [device.added, device.removed, device.health, device.flapping, kit.status, daemon, server.state,
                 server.restart, sync.state, uplink.reachability, uplink.route, power.source, power.battery, stock.level,
                 outbox, clock.step]
        subject: {type: string}
        kind: {type: string}
        device_name: {type: string}
        from: {type: string}
        to: {type: string}
        reason: {type: string}
    StationStatus:
      type: object
      description: What `ektpd status --json` prints
      required: [station, site, backend, kit, devices, last_sequence, started_at, now, version]
      properties:
        station: {type: string}
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
                properties: {kind: {type: string}, device: {type: string}, severity: {type: string}, reason: {type: string}}
            since: {$ref: '#/components/schemas/Time'}
        devices: {type: array, items: {type: object}}
        last_sequence: {type: integer}
        started_at: {$ref: '#/components/schemas/Time'}
        now: {$ref: '#/components/schemas/Time'}
        version: {type: string}
        server: {type: object}
        sync: {type: object}
        uplink: {type: object}
        power: {type: object}
        outbox: {type: object, description: whether the station's outbox can be written, and what it holds in memory}
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
    SitesReply:
      type: object
      required: [at, status, sites]
      properties:
        at: {$ref: '#/components/schemas/Time'}
        status: {type: string}
        sites: {type: array, items: {$ref: '#/components/schemas/SiteView'}}
    StationDetail:
      type: object
      required: [view, recent_events, reports_stored]
      properties:
        reports_stored: {type: integer, description: reports (events and snapshots) held for the station}
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
