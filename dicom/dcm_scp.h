/* dcm_scp.h: the C-ECHO / C-STORE service class provider, a thin C API over DCMTK
 * (a pool of DcmThreadSCP workers behind a non-blocking listener). The network layer
 * knows nothing of the index: it calls the handler the daemon gives it (Orthanc's
 * IStoreRequestHandler idea).
 *
 * Durability contract of one C-STORE (see the design notes in dcm_scp.cc):
 *   1. the dataset streams from the network into a temporary file under tmp_dir
 *      (never held whole in memory);
 *   2. the file is fsynced, walked by the bounded pre-parse (dcm_preparse.h) and its key
 *      tags parsed into dcm_instance_info; a file that is not DICOM, is truncated, nests
 *      too deep, holds too many elements or declares lengths past its end, or whose SOP Instance/Class UID differs from the request,
 *      or holds an invalid UID, gets a failure status and the temporary file is removed;
 *   3. handler->store() is called with the temporary path; it moves the file to its final
 *      place, commits the index row and returns the DIMSE status;
 *   4. only then is the response sent. On any failure the temporary file is gone.
 */
#ifndef MAMA_DCM_SCP_H
#define MAMA_DCM_SCP_H

#include <stddef.h>
#include <stdint.h>

#include "dicom/dcm_instance.h"

#ifdef __cplusplus
extern "C" {
#endif

/* DIMSE statuses used by the service (PS3.4 Annex B / PS3.7 Annex C). */
#define DCM_STATUS_SUCCESS 0x0000u
#define DCM_STATUS_OUT_OF_RESOURCES 0xA700u     /* disk full */
#define DCM_STATUS_DATASET_MISMATCH 0xA900u     /* dataset does not match SOP class / request */
#define DCM_STATUS_CANNOT_UNDERSTAND 0xC000u    /* unreadable */
#define DCM_STATUS_PROCESSING_FAILURE 0x0110u

typedef struct dcm_store_request {
    const char *tmp_path;           /* the fsynced temporary file; the handler renames it */
    const dcm_instance_info *info;  /* parsed tags, UIDs already validated */
    const char *calling_ae;
    const char *peer_host;
    uint64_t file_size;
    const char *sha256;             /* SHA-256 of the file, 64 hex digits ("" if unknown) */
} dcm_store_request;

typedef struct dcm_scp_handler {
    void *ctx;
    /* Returns a DIMSE status. Must not return Success unless the instance is durable
     * (file renamed into place + directory fsynced + index row committed). Whatever it
     * returns, the SCP removes tmp_path if it still exists afterwards. Called from pool
     * threads concurrently. */
    uint16_t (*store)(void *ctx, const dcm_store_request *req);
    /* Optional: association events for metrics (the SCP logs each one itself).
     * event is one of "accepted", "rejected", "released", "aborted"; reason is a
     * sentence ("" for accepted/released), e.g. "calling AE 'X' from 10.0.0.5 is not in
     * the allow-list", "all 8 association slots are busy (local limit exceeded)",
     * "service is shutting down", "peer aborted the association", "not a DICOM
     * association request". calling_ae is "" for a connection closed before its request
     * was read; peer_host is a numeric address. Called from SCP threads concurrently. */
    void (*assoc_event)(void *ctx, const char *event, const char *calling_ae,
                        const char *peer_host, const char *reason);
} dcm_scp_handler;

typedef struct dcm_allow_entry {
    char calling_ae[17];   /* exact AE title, or "*" for any */
    char host[64];         /* IPv4/IPv6 literal or hostname as resolved by DCMTK, or "*" */
} dcm_allow_entry;

typedef struct dcm_scp_config {
    const char *ae_title;        /* called AE title that must match */
    const char *bind_address;    /* IPv4 or IPv6 address or host name to listen on;
                                    NULL/"" = all (IPv6 and IPv4 where the host has IPv6) */
    uint16_t port;               /* 0 = pick a free ephemeral port (tests); see dcm_scp_port */
    int max_associations;        /* pool size; a full pool rejects new associations */
    int acse_timeout_s;          /* association negotiation messages (0 = 30 s) */
    int dimse_timeout_s;         /* a stalled message, and the idle time between commands
                                    after which an association is aborted (0 = 30 s) */
    const char *tmp_dir;         /* temporary files, on the same file system as storage */
    const dcm_allow_entry *allow;
    int n_allow;                 /* deny by default: zero entries admits nobody */
    uint64_t max_pdu;            /* 0 = DCMTK default */
    int accept_secondary_capture; /* 1: also Secondary Capture Image Storage, stored only
                                     when Modality is MG or BodyPartExamined BREAST */
    /* Connection hygiene (issue 15): a host matching no allow-list entry is closed at
     * accept, before it can hold anything. */
    int request_timeout_s;       /* a connection must have sent its whole A-ASSOCIATE-RQ
                                    within this (0 = 5 s, at most acse_timeout_s) */
    int max_pending_per_host;    /* connections of one host still sending their request
                                    (0 = 8); more are closed at accept */
    int max_assoc_per_host;      /* associations of one host at once (0 = max_associations);
                                    more are rejected "local limit exceeded" */
    /* DICOM TLS (DCMTK's TLS layer, BCP 195 TLS Secure Transport Connection Profile,
     * PS3.15 B.9): with tls_cert + tls_key every connection must speak TLS. */
    const char *tls_cert;        /* PEM certificate; NULL/"" = no TLS */
    const char *tls_key;         /* PEM private key */
    const char *tls_ca;          /* PEM certificates trusted for client certificates */
    int tls_require_client_cert; /* 1: a client certificate signed by tls_ca is required */
    int listen_fd;               /* > 0: a socket from dcm_scp_listen, taken over (bound
                                    before the daemon dropped root; dcm_scp_start closes
                                    it when it fails); else bind_address:port */
} dcm_scp_config;

typedef struct dcm_scp dcm_scp;

/* Starts listening in a background thread; returns once the port listens. Checks the
 * config (AE title 1..16 chars, tmp_dir writable, 1 <= max_associations <= 1000, port
 * free). Returns 0, or -1 with a message in err. One SCP per process (it briefly sets
 * DCMTK's global dcmExternalSocketHandle from its listener thread). */
int dcm_scp_start(const dcm_scp_config *cfg, const dcm_scp_handler *handler,
                  dcm_scp **out_scp, char *err, size_t errlen);
/* Binds and listens on bind_address:port (0 = an ephemeral port) for dcm_scp_config
 * listen_fd: the daemon binds before dropping root. Returns the socket, or -1 with a
 * message. */
int dcm_scp_listen(const char *bind_address, uint16_t port, char *err, size_t errlen);

/* Stops: new associations are rejected ("service is shutting down"), a C-STORE in
 * progress completes and is answered, idle associations are aborted at once (within a
 * second), then the listener is joined and the SCP freed. A store still streaming is
 * bounded by the sender and dimse_timeout_s. Blocking; call it from the thread that
 * handles SIGTERM (not from a signal handler). */
void dcm_scp_stop(dcm_scp *scp);

/* The port actually bound (the ephemeral one when cfg->port was 0). */
uint16_t dcm_scp_port(const dcm_scp *scp);

/* Fault injection for tests only: the nth C-STORE from now (1-based, counted over all
 * associations) fails its first data write with ENOSPC, as if the disk were full.
 * 0 turns it off. Never called by the daemon. */
void dcm_scp_test_fail_store(dcm_scp *scp, unsigned long nth);

#ifdef __cplusplus
}
#endif
#endif
