/* dcm_scu.h: sends DICOM files to a remote store SCP (C-STORE over one association) with
 * DCMTK's DcmSCU. Used by mamad's outbox (daemon/outbox.c) to deliver results to the PACS. */
#ifndef MAMA_DCM_SCU_H
#define MAMA_DCM_SCU_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dcm_scu_peer {
    const char *calling_ae;   /* our AE title */
    const char *called_ae;    /* the PACS's */
    const char *host;
    int port;
    int timeout_s;            /* connect, ACSE and DIMSE timeouts */
} dcm_scu_peer;

/* Sends one file. 0 when the peer answered Success (0x0000) or a warning (0xB...): the
 * object is stored; -1 otherwise with a message (association refused, no presentation
 * context, failure status, network error). */
int dcm_scu_store(const dcm_scu_peer *peer, const char *path, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
