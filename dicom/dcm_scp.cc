/* dcm_scp.cc: the C-ECHO / C-STORE service class provider on DCMTK 3.6.7: our own
 * non-blocking listener and association slots, one DcmThreadSCP per association, behind
 * the C API of dcm_scp.h.
 *
 * Design notes
 * ============
 * Threads. dcm_scp_start() binds the port itself and starts one listener thread
 * (listener_main). It accepts TCP connections without blocking; a host that matches no
 * allow-list entry, or that already has max_pending_per_host connections pending, is
 * closed at accept (drop_at_accept, one log line a second at most). Others stay pending
 * (conn_ready) until their whole A-ASSOCIATE-RQ PDU has arrived, at most
 * request_timeout_s (5 s); only then does DCMTK read it (hand_off: ASC_receiveAssociation on the
 * accepted socket through dcmExternalSocketHandle). So a connection that sends nothing,
 * or sends slowly, delays nobody, which DCMTK 3.6.7's DcmSCPPool cannot promise: its
 * single listener reads each request itself. hand_off then rejects at once with
 * A-ASSOCIATE-RJ "local limit exceeded" (transient, service provider) when
 * max_associations associations are running (or max_assoc_per_host of that host), or
 * "temporary congestion" while stopping,
 * and otherwise starts a detached worker thread (worker_main) running one ScpWorker,
 * a DcmThreadSCP. Nothing queues.
 *
 * Association states (one worker):
 *   RQ received   --ScpWorker::checkCalledAETitleAccepted / checkCallingAETitleAccepted-->
 *                  refused (ScpWorker::refuseAssociation reports "rejected" + reason)
 *   RQ received   --ScpWorker::notifyAssociationAcknowledge--> ACCEPTED ("accepted")
 *   ACCEPTED      --ScpWorker::handleAssociation receives a command-->
 *                  C-ECHO: DcmSCP::handleECHORequest; C-STORE: ScpWorker::handle_store
 *   ACCEPTED      --A-RELEASE-RQ--> released ("released")
 *   ACCEPTED      --A-ABORT / network error / idle past dimse_timeout / stop between
 *                   commands--> aborted ("aborted" + reason)
 *   slots full or stopping: hand_off rejects and reports "rejected".
 *
 * One C-STORE (ScpWorker::handle_store), the durability contract of dcm_scp.h:
 *   RECEIVING  dcm_tmpfile_create: tmp_dir/rcv-*.part, O_EXCL (a fresh name per request,
 *              never derived from a UID); the meta header then the dataset bytes stream
 *              from DIMSE_receiveDataSetInFile through DcmTmpConsumer to the fd. A write
 *              error does not stop the receive: the rest of the dataset is read and dropped.
 *   SYNCED     DcmTmpConsumer::finish + fsync + close. ENOSPC/EDQUOT -> 0xA700.
 *   CHECKED    dcm_read_instance_info: first the bounded pre-parse (dcm_preparse.h:
 *              nesting depth, element count, declared lengths; DCMTK's recursive parser
 *              would overflow this thread's stack on ~7,000 nested sequences), then the
 *              tags and the whole-file check -> else 0xC000 with the reason logged;
 *              SOP Instance/Class UID equal to the request's -> else 0xA900;
 *              every UID valid per dcm_uid_valid -> else 0xC000.
 *   HANDLED    handler->store() moves the file into place and commits; its status is sent.
 *   CLEANED    unlink(tmp) if the file is still there (always, whatever the status).
 *   The C-STORE-RSP is sent only after CLEANED, so Success always means durable.
 *
 * Invariants
 *   - No UID from the network ever reaches a path; temporary names are generated.
 *   - A failed store leaves no file: every path out of handle_store passes CLEANED.
 *   - A disk-full store costs one instance, not the association.
 *   - dcm_scp_stop: new associations are refused (hand_off while stopping), idle
 *     associations are aborted between commands, a store in progress finishes and gets
 *     its response; when no worker remains the listener stops and is joined.
 *   - scp->active counts running workers (under scp->mu); never above max_associations.
 *   - Worker threads get an explicit stack (kWorkerStackBytes), never the inherited
 *     ulimit; no input reaches DCMTK's parser unbounded.
 */
#include "dicom/dcm_scp.h"
#include "dicom/dcm_instance_read.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/diutil.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dul.h"
#include "dcmtk/dcmnet/scpthrd.h"
#include "dcmtk/dcmtls/tlslayer.h"
#include "dcmtk/oflog/oflog.h"

#include "common/disk_full.h"
#include "common/log.h"
#include "dicom/dcm_tmpfile.h"

namespace {

const char *const kStorageClasses[] = {
    UID_DigitalMammographyXRayImageStorageForPresentation,
    UID_DigitalMammographyXRayImageStorageForProcessing,
    UID_BreastTomosynthesisImageStorage,
    UID_BreastProjectionXRayImageStorageForPresentation,
    UID_BreastProjectionXRayImageStorageForProcessing,
};

/* Accepted transfer syntaxes. Within one presentation context the sender's first
 * proposal that is in this list wins (ScpWorker::negotiateAssociation), so a file is
 * received in the syntax its sender prefers, normally its own. */
const char *const kTransferSyntaxes[] = {
    UID_LittleEndianExplicitTransferSyntax,
    UID_LittleEndianImplicitTransferSyntax,
    UID_DeflatedExplicitVRLittleEndianTransferSyntax,
    UID_JPEGProcess14SV1TransferSyntax,
    UID_JPEGProcess14TransferSyntax,
    UID_JPEGLSLosslessTransferSyntax,
    UID_JPEGLSLossyTransferSyntax,
    UID_JPEG2000LosslessOnlyTransferSyntax,
    UID_JPEG2000TransferSyntax,
    UID_RLELosslessTransferSyntax,
};

struct AllowEntry {
    std::string ae, host;
};

}  // namespace

/* Network-supplied text (AE titles, UIDs) as it may appear in a log line: control
 * characters and non-ASCII bytes become '?', so no peer can forge log lines. */
static std::string printable(const char *s) {
    std::string out(s ? s : "");
    for (char &c : out)
        if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f) c = '?';
    return out;
}

struct dcm_scp {
    std::string ae_title;
    std::string tmp_dir;
    std::vector<AllowEntry> allow;
    dcm_scp_handler handler;
    int dimse_timeout_s = 30;
    int acse_timeout_s = 30;
    int request_timeout_s = 5;
    int max_pending_per_host = 8;
    int max_assoc_per_host = 4;
    int max_associations = 4;
    long max_pdu = ASC_DEFAULTMAXPDU;
    bool accept_sc = false;
    uint16_t port = 0;
    int listen_fd = -1;
    T_ASC_Network *net = nullptr;
    DcmTLSTransportLayer *tls = nullptr;      /* DICOM TLS, or NULL */
    DcmSharedSCPConfig shared;                /* the workers' DcmSCP configuration */
    pthread_t listener;
    bool listener_started = false;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t idle = PTHREAD_COND_INITIALIZER;   /* signalled when active drops */
    int active = 0;                           /* running workers, under mu */
    std::map<std::string, int> active_by_host;  /* running workers per peer, under mu */
    std::atomic<bool> stopping{false};        /* refuse new, abort idle */
    std::atomic<bool> quit{false};            /* the listener leaves its loop */
    std::atomic<unsigned long> store_seq{0};
    std::atomic<unsigned long> fail_store_nth{0};   /* fault injection, tests only */

    void event(const char *ev, const char *raw_ae, const char *host, const char *raw_reason) {
        std::string ae_s = printable(raw_ae), reason_s = printable(raw_reason);
        const char *ae = ae_s.c_str(), *reason = reason_s.c_str();
        if (!strcmp(ev, "accepted") || !strcmp(ev, "released"))
            log_info(LOG_CAT_DICOM, "association %s: calling AE '%s' from %s%s%s", ev, ae, host,
                     reason && reason[0] ? ": " : "", reason ? reason : "");
        else
            log_warn(LOG_CAT_DICOM, "association %s: calling AE '%s' from %s: %s", ev, ae, host,
                     reason ? reason : "");
        if (handler.assoc_event) handler.assoc_event(handler.ctx, ev, ae, host, reason ? reason : "");
    }
};

static std::string trim(const char *s) {
    std::string v(s ? s : "");
    size_t b = v.find_first_not_of(' ');
    if (b == std::string::npos) return "";
    size_t e = v.find_last_not_of(' ');
    return v.substr(b, e - b + 1);
}

static std::string norm_host(const std::string &h) {
    if (h.compare(0, 7, "::ffff:") == 0) return h.substr(7);
    return h;
}

static bool host_matches(const std::string &entry, const std::string &peer) {
    if (entry == "*" || entry == peer) return true;
    if (entry == "localhost") return peer == "127.0.0.1" || peer == "::1";
    return false;
}

/* 1 when some allow-list entry names this host (or any host): only then may the
 * connection stay open long enough to send an association request. */
static bool host_allowed(const dcm_scp *scp, const std::string &peer) {
    for (const AllowEntry &e : scp->allow)
        if (host_matches(e.host, peer)) return true;
    return false;
}

/* ------------------------------------------------------------------------------------- */

class ScpWorker : public DcmThreadSCP {
public:
    explicit ScpWorker(dcm_scp *scp) : scp_(scp) {}

    /* Negotiates and serves one association; DcmThreadSCP::run frees it. */
    /* peer: the numeric address from accept (DCMTK 3.6.7 reads the peer of an IPv6
     * socket as 0.0.0.0, so its callingPresentationAddress is not used). */
    OFCondition serve(T_ASC_Association *assoc, const std::string &peer) {
        assoc_ = assoc;
        calling_ = trim(assoc->params->DULparams.callingAPTitle);
        peer_ = peer;
        OFCondition c = setSharedConfig(scp_->shared);
        if (c.bad()) return c;
        return run(assoc);
    }

protected:
    OFBool checkCalledAETitleAccepted(const OFString &calledAE) override {
        std::string called = trim(calledAE.c_str());
        if (called == scp_->ae_title) return OFTrue;
        reject_reason_ = "called AE title '" + called + "' is not '" + scp_->ae_title + "'";
        return OFFalse;
    }

    OFBool checkCallingAETitleAccepted(const OFString &callingAE) override {
        std::string calling = trim(callingAE.c_str());
        for (const AllowEntry &e : scp_->allow)
            if ((e.ae == "*" || e.ae == calling) && host_matches(e.host, peer_)) return OFTrue;
        reject_reason_ = scp_->allow.empty()
                             ? "allow-list is empty (deny by default)"
                             : "calling AE '" + calling + "' from " + peer_ + " is not in the allow-list";
        return OFFalse;
    }

    void refuseAssociation(const DcmRefuseReasonType reason) override {
        std::string why = reject_reason_;
        if (why.empty()) {
            switch (reason) {
            case DCMSCP_NO_PRESENTATION_CONTEXTS: why = "no acceptable presentation context"; break;
            case DCMSCP_BAD_APPLICATION_CONTEXT_NAME:
                why = calling_.empty() ? "connection closed without an association request"
                                       : "bad application context name";
                break;
            case DCMSCP_TOO_MANY_ASSOCIATIONS: why = "too many associations"; break;
            default: why = "refused by DCMTK"; break;
            }
        }
        scp_->event("rejected", calling_.c_str(), peer_.c_str(), why.c_str());
        DcmThreadSCP::refuseAssociation(reason);
    }

    /* Accepts each proposed context whose abstract syntax we serve with the first of the
     * sender's transfer syntaxes we accept (DCMTK's default picks by our own order, which
     * would make senders transcode). */
    OFCondition negotiateAssociation() override {
        T_ASC_Parameters *params = assoc_->params;
        int n = ASC_countPresentationContexts(params);
        bool storage_accepted = false;
        others_refused_ = 0;
        for (int i = 0; i < n; i++) {
            T_ASC_PresentationContext pc;
            if (ASC_getPresentationContext(params, i, &pc).bad()) continue;
            bool echo = !strcmp(pc.abstractSyntax, UID_VerificationSOPClass);
            std::string why;
            if (!echo && !storage_class_served(pc.abstractSyntax, &why)) {
                log_context_refused(pc, why);
                ASC_refusePresentationContext(params, pc.presentationContextID, ASC_P_ABSTRACTSYNTAXNOTSUPPORTED);
                continue;
            }
            const char *chosen = NULL;
            for (int k = 0; k < pc.transferSyntaxCount && !chosen; k++) {
                const char *ts = pc.proposedTransferSyntaxes[k];
                if (echo) {
                    if (!strcmp(ts, UID_LittleEndianExplicitTransferSyntax) ||
                        !strcmp(ts, UID_LittleEndianImplicitTransferSyntax))
                        chosen = ts;
                    continue;
                }
                for (const char *ok : kTransferSyntaxes)
                    if (!strcmp(ts, ok)) chosen = ts;
            }
            if (chosen) {
                ASC_acceptPresentationContext(params, pc.presentationContextID, chosen);
                if (!echo) storage_accepted = true;
            } else {
                std::string first = pc.transferSyntaxCount > 0 ? pc.proposedTransferSyntaxes[0] : "none";
                log_context_refused(pc, "none of its " + std::to_string(pc.transferSyntaxCount) +
                                            " transfer syntaxes is accepted (first: " + uid_name(first.c_str()) +
                                            "; docs/operations.md lists the accepted ones)");
                ASC_refusePresentationContext(params, pc.presentationContextID, ASC_P_TRANSFERSYNTAXESNOTSUPPORTED);
            }
        }
        if (others_refused_)
            log_info(LOG_CAT_DICOM, "association from '%s' (%s): %d other presentation context(s) refused: "
                     "not SOP classes mamad stores (each one in the debug log)",
                     printable(calling_.c_str()).c_str(), peer_.c_str(), others_refused_);
        if (!storage_accepted && n > 0)
            log_warn(LOG_CAT_DICOM, "association from '%s' (%s): no storage presentation context accepted "
                     "(%d proposed): every C-STORE will fail", printable(calling_.c_str()).c_str(), peer_.c_str(), n);
        return EC_Normal;
    }

    /* The storage SOP classes served (docs/operations.md "Accepted SOP classes"); why gets
     * the reason when not. */
    bool storage_class_served(const char *sop, std::string *why) const {
        for (const char *k : kStorageClasses)
            if (!strcmp(sop, k)) return true;
        if (!strcmp(sop, UID_SecondaryCaptureImageStorage)) {
            if (scp_->accept_sc) return true;
            *why = "Secondary Capture is not accepted (set dicom.accept_secondary_capture = true "
                   "for digitised film such as CBIS-DDSM)";
            return false;
        }
        *why = "not a SOP class mamad stores (digital mammography, breast tomosynthesis and "
               "breast projection X-ray; docs/operations.md)";
        return false;
    }

    static std::string uid_name(const char *uid) {
        const char *name = dcmFindNameOfUID(uid, NULL);
        return printable(uid) + (name ? std::string(" ") + name : std::string());
    }

    /* Every refused presentation context is logged with its reason (a sender whose images
     * are all refused otherwise sees only an abort): a mammography class as a warning,
     * Secondary Capture at info; the dozens of unrelated classes a generic sender such as
     * storescu proposes at debug level, counted in one info line per association. */
    void log_context_refused(const T_ASC_PresentationContext &pc, const std::string &why) {
        bool ours = false, sc = !strcmp(pc.abstractSyntax, UID_SecondaryCaptureImageStorage);
        for (const char *k : kStorageClasses) ours = ours || !strcmp(pc.abstractSyntax, k);
        if (!ours && !sc) others_refused_++;
        /* Secondary Capture at info: generic senders propose it in every association */
        LOG_AT(ours ? LOG_LVL_WARN : sc ? LOG_LVL_INFO : LOG_LVL_DEBUG, LOG_CAT_DICOM,
               "association from '%s' (%s): presentation context %d (%s) refused: %s",
               printable(calling_.c_str()).c_str(), peer_.c_str(), (int)pc.presentationContextID,
               uid_name(pc.abstractSyntax).c_str(), why.c_str());
    }

    void notifyAssociationAcknowledge() override {
        scp_->event("accepted", calling_.c_str(), peer_.c_str(), "");
    }

    /* DcmSCP::handleAssociation with a short receive poll, so that an idle association
     * notices dcm_scp_stop between commands and idles out after dimse_timeout_s. */
    void handleAssociation() override {
        OFCondition cond = EC_Normal;
        time_t idle_since = time(NULL);
        std::string abort_reason;
        while (cond.good()) {
            T_DIMSE_Message msg;
            T_ASC_PresentationContextID pres_id = 0;
            cond = DIMSE_receiveCommand(assoc_, DIMSE_NONBLOCKING, 1, &pres_id, &msg, NULL);
            if (cond == DIMSE_NODATAAVAILABLE) {
                if (scp_->stopping) {
                    abort_reason = "service is shutting down";
                    break;
                }
                if (time(NULL) - idle_since >= scp_->dimse_timeout_s) {
                    abort_reason = "idle for " + std::to_string(scp_->dimse_timeout_s) + " s";
                    break;
                }
                cond = EC_Normal;
                continue;
            }
            if (cond.good()) {
                DcmPresentationContextInfo info;
                getPresentationContextInfo(assoc_, pres_id, info);
                cond = handleIncomingCommand(&msg, info);
                idle_since = time(NULL);
            }
        }
        if (!abort_reason.empty()) {
            scp_->event("aborted", calling_.c_str(), peer_.c_str(), abort_reason.c_str());
            ASC_abortAssociation(assoc_);
        } else if (cond == DUL_PEERREQUESTEDRELEASE) {
            scp_->event("released", calling_.c_str(), peer_.c_str(), "");
            ASC_acknowledgeRelease(assoc_);
        } else if (cond == DUL_PEERABORTEDASSOCIATION) {
            scp_->event("aborted", calling_.c_str(), peer_.c_str(), "peer aborted the association");
        } else {
            std::string why = std::string("network or protocol error: ") + cond.text();
            scp_->event("aborted", calling_.c_str(), peer_.c_str(), why.c_str());
            ASC_abortAssociation(assoc_);
        }
    }

    OFCondition handleIncomingCommand(T_DIMSE_Message *msg,
                                      const DcmPresentationContextInfo &info) override {
        if (msg->CommandField == DIMSE_C_STORE_RQ) return handle_store(msg->msg.CStoreRQ, info);
        return DcmThreadSCP::handleIncomingCommand(msg, info);
    }

private:
    /* A Secondary Capture image is stored only when it says it is a mammogram; where its
     * laterality and view came from is logged, since they are read from tags that
     * mammography images do not use for it (dcm_instance_read.h). */
    static bool check_secondary_capture(const dcm_instance_info &ii, std::string *why) {
        if (strcmp(ii.sop_class_uid, DCM_SOP_SECONDARY_CAPTURE) != 0) return true;
        if (!dcm_instance_is_mammo_sc(&ii)) {
            *why = std::string("Secondary Capture accepted only for mammograms: Modality '") +
                   printable(ii.modality) + "', BodyPartExamined '" + printable(ii.body_part) + "'";
            return false;
        }
        log_info(LOG_CAT_DICOM, "Secondary Capture %s: laterality '%s' from %s, view '%s' from %s",
                 printable(ii.sop_instance_uid).c_str(), printable(ii.image_laterality).c_str(),
                 ii.laterality_from[0] ? ii.laterality_from : "no tag",
                 printable(ii.view_position).c_str(), ii.view_from[0] ? ii.view_from : "no tag");
        return true;
    }

    OFCondition handle_store(T_DIMSE_C_StoreRQ &req, const DcmPresentationContextInfo &info);
    uint16_t receive_into(int fd, const char *tmp, T_DIMSE_C_StoreRQ &req,
                          const DcmPresentationContextInfo &info, OFCondition *out_cond,
                          std::string *why, char sha256[65]);

    dcm_scp *scp_;
    T_ASC_Association *assoc_ = nullptr;
    std::string calling_, peer_, reject_reason_;
    int others_refused_ = 0;
};

/* RECEIVING + SYNCED. Returns a status; *out_cond is bad only for network errors. */
uint16_t ScpWorker::receive_into(int fd, const char *tmp, T_DIMSE_C_StoreRQ &req,
                                 const DcmPresentationContextInfo &info, OFCondition *out_cond,
                                 std::string *why, char sha256[65]) {
    DcmTmpConsumer consumer(fd);
    sha256[0] = '\0';
    unsigned long nth = scp_->fail_store_nth.load();
    if (nth && scp_->store_seq.fetch_add(1) + 1 == nth) consumer.fail_errno = ENOSPC;
    unsigned char meta[1024];
    size_t meta_len = dcm_tmpfile_meta(meta, sizeof meta, req.AffectedSOPClassUID,
                                       req.AffectedSOPInstanceUID,
                                       info.acceptedTransferSyntax.c_str(), calling_.c_str());
    int inject = consumer.fail_errno;
    consumer.fail_errno = 0;
    if (meta_len) consumer.write(meta, (offile_off_t)meta_len);
    consumer.fail_errno = inject;
    DcmTmpStream stream(&consumer);
    T_ASC_PresentationContextID ds_pres = 0;
    *out_cond = DIMSE_receiveDataSetInFile(assoc_, DIMSE_NONBLOCKING, scp_->dimse_timeout_s,
                                           &ds_pres, &stream, NULL, NULL);
    if (out_cond->bad()) {
        *why = std::string("receiving the dataset failed: ") + out_cond->text();
        return DCM_STATUS_PROCESSING_FAILURE;
    }
    if (!meta_len) {
        *why = "cannot build the file meta header";
        return DCM_STATUS_PROCESSING_FAILURE;
    }
    if (ds_pres != info.presentationContextID) {
        *why = "dataset and command came on different presentation contexts";
        return DCM_STATUS_CANNOT_UNDERSTAND;
    }
    int e = consumer.finish();
    if (e == 0) consumer.sha256_hex(sha256);
    if (e == 0 && fsync(fd) != 0) e = errno;
    if (e) {
        *why = std::string(disk_full(e) ? "disk full while writing " : "I/O error while writing ") +
               tmp + ": " + strerror(e);
        return disk_full(e) ? DCM_STATUS_OUT_OF_RESOURCES : DCM_STATUS_PROCESSING_FAILURE;
    }
    return DCM_STATUS_SUCCESS;
}

OFCondition ScpWorker::handle_store(T_DIMSE_C_StoreRQ &req, const DcmPresentationContextInfo &info) {
    OFCondition cond = EC_Normal;
    uint16_t status = DCM_STATUS_SUCCESS;
    std::string why;
    char tmp[4096], sha256[65] = "";
    tmp[0] = '\0';
    uint64_t size = 0;
    int fd = dcm_tmpfile_create(scp_->tmp_dir.c_str(), tmp, sizeof tmp);
    if (fd < 0) {
        int e = errno;
        status = disk_full(e) ? DCM_STATUS_OUT_OF_RESOURCES : DCM_STATUS_PROCESSING_FAILURE;
        why = std::string("cannot create a temporary file in ") + scp_->tmp_dir + ": " + strerror(e);
        tmp[0] = '\0';
        DIC_UL bytes = 0, pdvs = 0;
        cond = DIMSE_ignoreDataSet(assoc_, DIMSE_NONBLOCKING, scp_->dimse_timeout_s, &bytes, &pdvs);
    } else {
        status = receive_into(fd, tmp, req, info, &cond, &why, sha256);
        struct stat st;
        if (fstat(fd, &st) == 0) size = (uint64_t)st.st_size;
        if (close(fd) != 0 && status == DCM_STATUS_SUCCESS) {
            int e = errno;
            status = disk_full(e) ? DCM_STATUS_OUT_OF_RESOURCES : DCM_STATUS_PROCESSING_FAILURE;
            why = std::string("closing ") + tmp + " failed: " + strerror(e);
        }
    }
    dcm_instance_info ii;
    if (status == DCM_STATUS_SUCCESS) {      /* CHECKED */
        char err[512];
        if (info.abstractSyntax != req.AffectedSOPClassUID) {
            status = DCM_STATUS_DATASET_MISMATCH;
            why = std::string("request SOP Class UID '") + req.AffectedSOPClassUID +
                  "' is not the presentation context's " + info.abstractSyntax.c_str();
        } else if (dcm_read_instance_info(tmp, &ii, err, sizeof err) != 0) {
            status = DCM_STATUS_CANNOT_UNDERSTAND;
            why = err;
        } else if (strcmp(ii.sop_instance_uid, req.AffectedSOPInstanceUID) != 0) {
            status = DCM_STATUS_DATASET_MISMATCH;
            why = std::string("SOP Instance UID '") + ii.sop_instance_uid +
                  "' differs from the request's '" + req.AffectedSOPInstanceUID + "'";
        } else if (strcmp(ii.sop_class_uid, req.AffectedSOPClassUID) != 0) {
            status = DCM_STATUS_DATASET_MISMATCH;
            why = std::string("SOP Class UID '") + ii.sop_class_uid +
                  "' differs from the request's '" + req.AffectedSOPClassUID + "'";
        } else if (!check_secondary_capture(ii, &why)) {
            status = DCM_STATUS_DATASET_MISMATCH;
        } else {
            const struct { const char *name, *v; } uids[] = {
                {"SOP Instance UID", ii.sop_instance_uid}, {"SOP Class UID", ii.sop_class_uid},
                {"Study Instance UID", ii.study_uid}, {"Series Instance UID", ii.series_uid},
                {"Transfer Syntax UID", ii.transfer_syntax_uid},
            };
            for (const auto &u : uids) {
                if (!dcm_uid_valid(u.v)) {
                    status = DCM_STATUS_CANNOT_UNDERSTAND;
                    why = std::string(u.name) + " '" + u.v + "' is not a valid UID";
                    break;
                }
            }
        }
    }
    if (status == DCM_STATUS_SUCCESS) {      /* HANDLED */
        dcm_store_request sr;
        sr.tmp_path = tmp;
        sr.info = &ii;
        sr.calling_ae = calling_.c_str();
        sr.peer_host = peer_.c_str();
        sr.file_size = size;
        sr.sha256 = sha256;
        status = scp_->handler.store ? scp_->handler.store(scp_->handler.ctx, &sr)
                                     : DCM_STATUS_PROCESSING_FAILURE;
        if (status != DCM_STATUS_SUCCESS) why = "the store handler refused it";
    }
    if (tmp[0] && unlink(tmp) != 0 && errno != ENOENT)   /* CLEANED */
        log_error(LOG_CAT_DICOM, "cannot remove temporary file %s: %s", tmp, strerror(errno));
    std::string uid = printable(req.AffectedSOPInstanceUID), ae = printable(calling_.c_str());
    if (status == DCM_STATUS_SUCCESS)
        log_info(LOG_CAT_DICOM, "C-STORE %s from '%s': 0x%04x success (%llu bytes)", uid.c_str(),
                 ae.c_str(), status, (unsigned long long)size);
    else
        log_warn(LOG_CAT_DICOM, "C-STORE %s from '%s': 0x%04x failure: %s", uid.c_str(), ae.c_str(),
                 status, printable(why.c_str()).c_str());
    if (cond.bad()) return cond;             /* network error: the association is gone */
    return sendSTOREResponse(info.presentationContextID, req, status);
}

/* ------------------------------------------------------------------------------------- */

/* ---- listener: accept, wait for the whole request, hand it to DCMTK, start a worker ---- */

struct Pending {
    int fd;
    double deadline;
    bool partial;      /* some bytes of the request are here: poll() would spin on it */
    std::string peer;
    bool tls = false;  /* the port speaks TLS */
};

static double now_s() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 1: the whole A-ASSOCIATE-RQ PDU is buffered; 0: not yet; -1: closed or not DICOM
 * (with *why set). Only peeks: DCMTK reads the bytes. */
static int conn_ready(Pending &p, const char **why) {
    unsigned char h[6];
    ssize_t n = recv(p.fd, h, sizeof h, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) { *why = "connection closed without an association request"; return -1; }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
        *why = "connection error before the association request";
        return -1;
    }
    p.partial = true;
    if (p.tls) {
        /* encrypted: the request cannot be seen before the handshake, which DCMTK does in
         * hand_off under the request deadline (socket timeouts) */
        if (h[0] != 0x16) { *why = "not a TLS handshake on the DICOM TLS port"; return -1; }
        return 1;
    }
    if (h[0] != 0x01) { *why = "not a DICOM association request (first PDU is not A-ASSOCIATE-RQ)"; return -1; }
    if (n < 6) return 0;
    unsigned long len = ((unsigned long)h[2] << 24) | ((unsigned long)h[3] << 16) |
                        ((unsigned long)h[4] << 8) | h[5];
    if (len > (1ul << 20)) { *why = "A-ASSOCIATE-RQ larger than 1 MiB"; return -1; }
    int avail = 0;
    if (ioctl(p.fd, FIONREAD, &avail) != 0) { *why = "connection error"; return -1; }
    return (unsigned long)avail >= len + 6 ? 1 : 0;
}

static void reject(T_ASC_Association *assoc, T_ASC_RejectParametersReason reason) {
    T_ASC_RejectParameters rej;
    rej.result = ASC_RESULT_REJECTEDTRANSIENT;
    rej.source = ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED;
    rej.reason = reason;
    ASC_rejectAssociation(assoc, &rej);
}

/* 8 MiB: glibc's usual default, made explicit; 64 nested levels use a few hundred KB. */
static const size_t kWorkerStackBytes = 8u << 20;

struct WorkerArg {
    dcm_scp *scp;
    T_ASC_Association *assoc;
    std::string host;
};

/* One worker fewer (under mu): the pool's and its host's count. */
static void release_slot(dcm_scp *scp, const std::string &host) {
    pthread_mutex_lock(&scp->mu);
    scp->active--;
    auto it = scp->active_by_host.find(host);
    if (it != scp->active_by_host.end() && --it->second <= 0) scp->active_by_host.erase(it);
    pthread_cond_broadcast(&scp->idle);
    pthread_mutex_unlock(&scp->mu);
}

static void *worker_main(void *arg) {
    WorkerArg *w = (WorkerArg *)arg;
    dcm_scp *scp = w->scp;
    try {
        ScpWorker worker(scp);
        OFCondition c = worker.serve(w->assoc, w->host);
        if (c.bad()) log_warn(LOG_CAT_DICOM, "association ended with an error: %s", c.text());
    } catch (...) {
        log_error(LOG_CAT_DICOM, "association worker stopped by an exception");
    }
    std::string host = w->host;
    delete w;
    release_slot(scp, host);
    return NULL;
}

/* The request is buffered: DCMTK parses it from the accepted socket; then a worker
 * takes the association, or it is rejected at once. */
static void hand_off(dcm_scp *scp, int fd, const std::string &host) {
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    /* TLS: the handshake and the request are read here, blocking; the request deadline
     * bounds each read and write of them */
    struct timeval tv = {scp->request_timeout_s, 0}, none = {0, 0};
    if (scp->tls) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    T_ASC_Association *assoc = NULL;
    dcmExternalSocketHandle.set(fd);     /* only this thread receives associations */
    OFCondition c = ASC_receiveAssociation(scp->net, &assoc, scp->max_pdu, NULL, NULL,
                                           scp->tls ? OFTrue : OFFalse,
                                           DUL_BLOCK, 0);
    dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
    if (scp->tls) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
    }
    if (c.bad() || !assoc || !assoc->params) {
        log_warn(LOG_CAT_DICOM, "cannot read an association request from %s%s: %s", host.c_str(),
                 scp->tls ? " (TLS handshake or client certificate refused?)" : "", c.text());
        if (scp->handler.assoc_event)
            scp->handler.assoc_event(scp->handler.ctx, "rejected", "", host.c_str(),
                                     scp->tls ? "TLS handshake failed or the request could not be read"
                                              : "the association request could not be read");
        if (assoc) {
            ASC_dropAssociation(assoc);
            ASC_destroyAssociation(&assoc);
        } else {
            close(fd);
        }
        return;
    }
    std::string ae = trim(assoc->params->DULparams.callingAPTitle);
    pthread_mutex_lock(&scp->mu);
    bool stopping = scp->stopping, full = scp->active >= scp->max_associations;
    auto it = scp->active_by_host.find(host);
    bool host_full = !full && it != scp->active_by_host.end() && it->second >= scp->max_assoc_per_host;
    if (!stopping && !full && !host_full) {
        scp->active++;
        scp->active_by_host[host]++;
    }
    pthread_mutex_unlock(&scp->mu);
    if (!stopping && !full && !host_full) {
        WorkerArg *w = new WorkerArg{scp, assoc, host};
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        /* An explicit stack, not whatever `ulimit -s` the service was started under: DCMTK
         * parses (and decodes) recursively on this thread. dcm_preparse bounds the depth
         * far below what this stack holds. */
        pthread_attr_setstacksize(&attr, kWorkerStackBytes);
        int rc = pthread_create(&t, &attr, worker_main, w);
        pthread_attr_destroy(&attr);
        if (rc == 0) return;
        delete w;
        release_slot(scp, host);
        scp->event("rejected", ae.c_str(), host.c_str(), "cannot start a thread for it");
        reject(assoc, ASC_REASON_SP_PRES_TEMPORARYCONGESTION);
    } else if (stopping) {
        scp->event("rejected", ae.c_str(), host.c_str(), "service is shutting down");
        reject(assoc, ASC_REASON_SP_PRES_TEMPORARYCONGESTION);
    } else if (host_full) {
        std::string why = "host " + host + " already has " + std::to_string(scp->max_assoc_per_host) +
                          " associations open (per-host limit, local limit exceeded)";
        scp->event("rejected", ae.c_str(), host.c_str(), why.c_str());
        reject(assoc, ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED);
    } else {
        std::string why = "all " + std::to_string(scp->max_associations) +
                          " association slots are busy (local limit exceeded)";
        scp->event("rejected", ae.c_str(), host.c_str(), why.c_str());
        reject(assoc, ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED);
    }
    ASC_dropAssociation(assoc);
    ASC_destroyAssociation(&assoc);
}

/* A connection closed at accept: logged (at most one line a second, with how many were
 * closed meanwhile, so a flood cannot flood the log) and reported as "rejected". */
static void drop_at_accept(dcm_scp *scp, const char *host, const char *why) {
    static double last = 0;
    static unsigned long quiet = 0;
    double t = now_s();
    if (t - last >= 1.0) {
        if (quiet)
            log_warn(LOG_CAT_DICOM, "closing a connection from %s: %s (%lu more closed in the "
                     "last second)", host, why, quiet);
        else
            log_warn(LOG_CAT_DICOM, "closing a connection from %s: %s", host, why);
        last = t;
        quiet = 0;
    } else {
        quiet++;
    }
    if (scp->handler.assoc_event) scp->handler.assoc_event(scp->handler.ctx, "rejected", "", host, why);
}

static void *listener_main(void *arg) {
    dcm_scp *scp = (dcm_scp *)arg;
    std::vector<Pending> pending;
    const size_t max_pending = 256;
    while (!scp->quit) {
        std::vector<struct pollfd> pfds;
        pfds.push_back({scp->listen_fd, POLLIN, 0});
        bool any_partial = false;
        for (const Pending &p : pending) {
            if (p.partial) any_partial = true;
            else pfds.push_back({p.fd, POLLIN, 0});
        }
        int n = poll(pfds.data(), pfds.size(), any_partial ? 20 : 200);
        if (n < 0 && errno != EINTR) {
            log_error(LOG_CAT_DICOM, "poll on the DICOM port failed: %s", strerror(errno));
            usleep(100000);
        }
        if (n > 0 && (pfds[0].revents & POLLIN)) {
            for (;;) {
                struct sockaddr_storage a;
                socklen_t alen = sizeof a;
                int fd = accept4(scp->listen_fd, (struct sockaddr *)&a, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) break;
                char hbuf[NI_MAXHOST] = "?";
                getnameinfo((struct sockaddr *)&a, alen, hbuf, sizeof hbuf, NULL, 0, NI_NUMERICHOST);
                std::string host = norm_host(hbuf);
                const char *why = NULL;
                size_t same = 0;
                for (const Pending &p : pending) same += p.peer == host;
                if (!host_allowed(scp, host))
                    why = "the host is not in the allow-list (closed at accept)";
                else if (same >= (size_t)scp->max_pending_per_host)
                    why = "the host already has its limit of connections waiting to send an "
                          "association request";
                else if (pending.size() >= max_pending)
                    why = "too many connections are waiting to send their association request";
                if (why) {
                    drop_at_accept(scp, host.c_str(), why);
                    close(fd);
                    continue;
                }
                pending.push_back({fd, now_s() + scp->request_timeout_s, false, host, scp->tls != nullptr});
            }
        }
        double t = now_s();
        for (size_t i = pending.size(); i-- > 0;) {
            const char *why = NULL;
            int st = conn_ready(pending[i], &why);
            if (st == 0 && t < pending[i].deadline) continue;
            Pending p = pending[i];
            pending.erase(pending.begin() + (long)i);
            if (st == 1) {
                hand_off(scp, p.fd, p.peer);
            } else {
                if (st == 0) why = "sent no complete association request within the request timeout";
                if (p.partial || st == 0) {
                    log_warn(LOG_CAT_DICOM, "closing a connection from %s: %s", p.peer.c_str(), why);
                    if (scp->handler.assoc_event)
                        scp->handler.assoc_event(scp->handler.ctx, "rejected", "", p.peer.c_str(), why);
                } else
                    log_debug(LOG_CAT_DICOM, "connection from %s: %s", p.peer.c_str(), why);
                close(p.fd);
            }
        }
    }
    for (const Pending &p : pending) close(p.fd);
    return NULL;
}

/* The listening socket on bind_address (IPv4 or IPv6 literal or name; ""/NULL/"*" = all:
 * IPv6 dual-stack where the host has IPv6, else IPv4) and port (0 = a free ephemeral
 * port). -1 with a message. */
static int open_listen_socket(const char *bind_address, uint16_t port, char *err, size_t errlen) {
    bool any = !bind_address || !bind_address[0] || strcmp(bind_address, "*") == 0;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    memset(&ss, 0, sizeof ss);
    if (any) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_addr = in6addr_any;
        a6->sin6_port = htons(port);
        sslen = sizeof *a6;
    } else {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        char ps[8];
        snprintf(ps, sizeof ps, "%u", port);
        if (getaddrinfo(bind_address, ps, &hints, &res) != 0 || !res) {
            snprintf(err, errlen, "bind address '%s' is not an IPv4/IPv6 address or known host name",
                     bind_address);
            return -1;
        }
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        sslen = (socklen_t)res->ai_addrlen;
        freeaddrinfo(res);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && any && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) {
        /* no IPv6 on this host: all IPv4 addresses */
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        memset(&ss, 0, sizeof ss);
        a4->sin_family = AF_INET;
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
        a4->sin_port = htons(port);
        sslen = sizeof *a4;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, any ? &zero : &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 128) != 0) {
        snprintf(err, errlen, "cannot listen on %s port %u: %s (is another service using it?)",
                 any ? "*" : bind_address, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static uint16_t socket_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return 0;
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

extern "C" int dcm_scp_listen(const char *bind_address, uint16_t port, char *err, size_t errlen) {
    return open_listen_socket(bind_address, port, err, errlen);
}

/* DICOM TLS on scp->net: DCMTK's layer with the BCP 195 profile, the server's key and
 * certificate, and (tls_ca) the certificates trusted for clients. 0, or -1 + err. */
static int setup_tls(dcm_scp *scp, const dcm_scp_config *cfg, char *err, size_t errlen) {
    DcmTLSTransportLayer *tl = new DcmTLSTransportLayer(NET_ACCEPTOR, NULL, OFTrue);
    OFCondition c = tl->setTLSProfile(TSP_Profile_BCP195);
    if (c.good()) c = tl->activateCipherSuites();
    bool have_ca = cfg->tls_ca && cfg->tls_ca[0];
    tl->setCertificateVerification(cfg->tls_require_client_cert ? DCV_requireCertificate
                                   : have_ca ? DCV_checkCertificate : DCV_ignoreCertificate);
    if (c.good()) c = tl->setPrivateKeyFile(cfg->tls_key, DCF_Filetype_PEM);
    if (c.good()) c = tl->setCertificateFile(cfg->tls_cert, DCF_Filetype_PEM);
    if (c.good() && !tl->checkPrivateKeyMatchesCertificate()) c = EC_IllegalParameter;
    if (c.good() && have_ca) c = tl->addTrustedCertificateFile(cfg->tls_ca, DCF_Filetype_PEM);
    if (c.good() && cfg->tls_require_client_cert && !have_ca) c = EC_IllegalParameter;
    if (c.good()) c = ASC_setTransportLayer(scp->net, tl, 0);
    if (c.bad()) {
        snprintf(err, errlen, "DICOM TLS: %s (tls_cert %s, tls_key %s%s%s: PEM files of a matching "
                 "certificate and key; requiring client certificates needs tls_ca)", c.text(),
                 cfg->tls_cert, cfg->tls_key ? cfg->tls_key : "", have_ca ? ", tls_ca " : "",
                 have_ca ? cfg->tls_ca : "");
        delete tl;
        return -1;
    }
    scp->tls = tl;
    return 0;
}

/* dcm_scp_start owns cfg->listen_fd: closed on every failure. */
static int give_up(const dcm_scp_config *cfg) {
    if (cfg && cfg->listen_fd > 0) close(cfg->listen_fd);
    return -1;
}

extern "C" int dcm_scp_start(const dcm_scp_config *cfg, const dcm_scp_handler *handler,
                             dcm_scp **out_scp, char *err, size_t errlen) {
    *out_scp = NULL;
    dcm_scp *scp = nullptr;
    try {
        if (!cfg || !handler || !handler->store) {
            snprintf(err, errlen, "dcm_scp_start: missing config or store handler");
            return give_up(cfg);
        }
        std::string ae = trim(cfg->ae_title);
        if (ae.empty() || ae.size() > 16) {
            snprintf(err, errlen, "AE title '%s' must be 1..16 characters", cfg->ae_title ? cfg->ae_title : "");
            return give_up(cfg);
        }
        if (!cfg->tmp_dir || !cfg->tmp_dir[0]) {
            snprintf(err, errlen, "no temporary directory configured for received files");
            return give_up(cfg);
        }
        struct stat st;
        if (stat(cfg->tmp_dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(cfg->tmp_dir, W_OK) != 0) {
            snprintf(err, errlen, "temporary directory %s is not a writable directory", cfg->tmp_dir);
            return give_up(cfg);
        }
        if (cfg->max_associations < 1 || cfg->max_associations > 1000) {
            snprintf(err, errlen, "max_associations %d out of range 1..1000", cfg->max_associations);
            return give_up(cfg);
        }
        /* DCMTK's own log goes to stderr; keep it to warnings unless we debug. */
        OFLog::configure(log_current_level >= LOG_LVL_DEBUG ? OFLogger::INFO_LOG_LEVEL
                                                            : OFLogger::WARN_LOG_LEVEL);
        int lfd = cfg->listen_fd > 0 ? cfg->listen_fd
                                     : open_listen_socket(cfg->bind_address, cfg->port, err, errlen);
        if (lfd < 0) return -1;
        if (cfg->listen_fd > 0) {
            int fl = fcntl(lfd, F_GETFL);
            if (fl >= 0) fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
        }
        uint16_t port = socket_port(lfd);

        scp = new dcm_scp();
        scp->listen_fd = lfd;
        scp->ae_title = ae;
        scp->tmp_dir = cfg->tmp_dir;
        scp->handler = *handler;
        scp->dimse_timeout_s = cfg->dimse_timeout_s > 0 ? cfg->dimse_timeout_s : 30;
        scp->acse_timeout_s = cfg->acse_timeout_s > 0 ? cfg->acse_timeout_s : 30;
        scp->request_timeout_s = cfg->request_timeout_s > 0 ? cfg->request_timeout_s : 5;
        if (scp->request_timeout_s > scp->acse_timeout_s) scp->request_timeout_s = scp->acse_timeout_s;
        scp->max_pending_per_host = cfg->max_pending_per_host > 0 ? cfg->max_pending_per_host : 8;
        scp->max_assoc_per_host = cfg->max_assoc_per_host > 0 ? cfg->max_assoc_per_host
                                                              : cfg->max_associations;
        scp->max_associations = cfg->max_associations;
        if (cfg->max_pdu) scp->max_pdu = (long)cfg->max_pdu;
        scp->accept_sc = cfg->accept_secondary_capture != 0;
        scp->port = port;
        for (int i = 0; i < cfg->n_allow; i++) {
            AllowEntry e;
            e.ae = trim(cfg->allow[i].calling_ae);
            e.host = norm_host(trim(cfg->allow[i].host));
            if (e.ae.empty() || e.host.empty()) continue;
            scp->allow.push_back(e);
        }
        if (scp->allow.empty())
            log_warn(LOG_CAT_DICOM, "the DICOM allow-list is empty: every association will be rejected");

        DcmSCPConfig c;
        c.setAETitle(ae.c_str());
        c.setPort(port);
        c.setACSETimeout((Uint32)scp->acse_timeout_s);
        c.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        c.setDIMSETimeout((Uint32)scp->dimse_timeout_s);
        c.setHostLookupEnabled(OFFalse);     /* numeric peer addresses, no DNS wait */
        c.setMaxReceivePDULength((Uint32)scp->max_pdu);
        OFList<OFString> ts, echo_ts;
        for (const char *t : kTransferSyntaxes) ts.push_back(t);
        echo_ts.push_back(UID_LittleEndianExplicitTransferSyntax);
        echo_ts.push_back(UID_LittleEndianImplicitTransferSyntax);
        OFCondition oc = c.addPresentationContext(UID_VerificationSOPClass, echo_ts);
        for (const char *sop : kStorageClasses)
            if (oc.good()) oc = c.addPresentationContext(sop, ts);
        if (oc.good() && scp->accept_sc) oc = c.addPresentationContext(UID_SecondaryCaptureImageStorage, ts);
        if (oc.bad()) {
            snprintf(err, errlen, "cannot configure presentation contexts: %s", oc.text());
            goto fail;
        }
        scp->shared = DcmSharedSCPConfig(c);
        /* An acceptor network without a listening socket of its own: while
         * dcmExternalSocketHandle is set, DCMTK creates none (we own the port). */
        dcmExternalSocketHandle.set(lfd);
        oc = ASC_initializeNetwork(NET_ACCEPTOR, (int)port, scp->acse_timeout_s, &scp->net);
        dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
        if (oc.bad()) {
            snprintf(err, errlen, "cannot initialise the DICOM network: %s", oc.text());
            goto fail;
        }
        if (cfg->tls_cert && cfg->tls_cert[0] && setup_tls(scp, cfg, err, errlen) != 0) goto fail;
        if (pthread_create(&scp->listener, NULL, listener_main, scp) != 0) {
            snprintf(err, errlen, "cannot start the DICOM listener thread");
            goto fail;
        }
        scp->listener_started = true;
        log_info(LOG_CAT_DICOM, "DICOM SCP '%s' listening on %s port %u (%s, %d associations, %zu allow-list entries)",
                 ae.c_str(), cfg->bind_address && cfg->bind_address[0] ? cfg->bind_address : "*",
                 port, scp->tls ? "TLS" : "no TLS", cfg->max_associations, scp->allow.size());
        *out_scp = scp;
        return 0;
    } catch (...) {
        snprintf(err, errlen, "dcm_scp_start: unexpected exception");
    }
fail:
    if (scp) {
        if (scp->net) ASC_dropNetwork(&scp->net);
        delete scp->tls;
        if (scp->listen_fd >= 0) close(scp->listen_fd);
        delete scp;
    }
    return -1;
}

extern "C" void dcm_scp_stop(dcm_scp *scp) {
    if (!scp) return;
    try {
        /* New associations are rejected from now on; workers finish their store, abort
         * idle associations within a second and leave. */
        scp->stopping = true;
        pthread_mutex_lock(&scp->mu);
        while (scp->active > 0) pthread_cond_wait(&scp->idle, &scp->mu);
        pthread_mutex_unlock(&scp->mu);
        scp->quit = true;
        if (scp->listener_started) pthread_join(scp->listener, NULL);
        if (scp->net) ASC_dropNetwork(&scp->net);
        delete scp->tls;
        scp->tls = nullptr;
        close(scp->listen_fd);
        log_info(LOG_CAT_DICOM, "DICOM SCP on port %u stopped", scp->port);
    } catch (...) {
        log_error(LOG_CAT_DICOM, "dcm_scp_stop: unexpected exception");
    }
    delete scp;
}

extern "C" uint16_t dcm_scp_port(const dcm_scp *scp) { return scp ? scp->port : 0; }

extern "C" void dcm_scp_test_fail_store(dcm_scp *scp, unsigned long nth) {
    if (!scp) return;
    scp->store_seq = 0;
    scp->fail_store_nth = nth;
}
