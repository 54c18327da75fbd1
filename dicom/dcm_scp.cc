/* dcm_scp.cc: the C-ECHO / C-STORE service class provider over DCMTK 3.6.7's association
 * pool (DcmBaseSCPPool + one DcmThreadSCP per association), behind the C API of dcm_scp.h.
 *
 * Design notes
 * ============
 * Threads. dcm_scp_start() starts one listener thread (listener_main) that runs
 * ScpPool::listen(): it accepts TCP connections, reads the A-ASSOCIATE-RQ and hands each
 * association to a new ScpWorker thread (ScpPool::createSCPWorker). DCMTK's pool refuses
 * an association with A-ASSOCIATE-RJ "local limit exceeded" (transient, service provider)
 * at once when max_associations workers are busy; it never queues (checked in the
 * pool_full test: the refusal comes in ~25 ms). Because the listener itself reads the
 * request, a connection that sends nothing holds it for acse_timeout_s.
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
 *   pool full: ScpPool::dropAndDestroyAssociation reports "rejected".
 *
 * One C-STORE (ScpWorker::handle_store), the durability contract of dcm_scp.h:
 *   RECEIVING  dcm_tmpfile_create: tmp_dir/rcv-*.part, O_EXCL (a fresh name per request,
 *              never derived from a UID); the meta header then the dataset bytes stream
 *              from DIMSE_receiveDataSetInFile through DcmTmpConsumer to the fd. A write
 *              error does not stop the receive: the rest of the dataset is read and dropped.
 *   SYNCED     DcmTmpConsumer::finish + fsync + close. ENOSPC/EDQUOT -> 0xA700.
 *   CHECKED    dcm_read_instance_info (tags, whole-file check) -> else 0xC000;
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
 *   - dcm_scp_stop: new associations are refused (ScpWorker::checkCalledAETitleAccepted
 *     while stopping), idle associations are aborted between commands, a store in
 *     progress finishes and gets its response; only when no worker remains does the
 *     listener stop (so DCMTK's pool never joins a detached worker thread).
 */
#include "dicom/dcm_scp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/diutil.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/scppool.h"
#include "dcmtk/dcmnet/scpthrd.h"
#include "dcmtk/oflog/oflog.h"

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

class ScpPool;

struct dcm_scp {
    std::string ae_title;
    std::string tmp_dir;
    std::vector<AllowEntry> allow;
    dcm_scp_handler handler;
    int dimse_timeout_s = 30;
    uint16_t port = 0;
    ScpPool *pool = nullptr;
    pthread_t listener;
    bool listener_started = false;
    std::atomic<bool> stopping{false};
    std::atomic<int> workers{0};
    std::atomic<unsigned long> store_seq{0};
    std::atomic<unsigned long> fail_store_nth{0};   /* fault injection, tests only */

    void event(const char *ev, const char *ae, const char *host, const char *reason) {
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

/* ------------------------------------------------------------------------------------- */

class ScpWorker : public DcmBaseSCPPool::DcmBaseSCPWorker, public DcmThreadSCP {
public:
    ScpWorker(DcmBaseSCPPool &pool, dcm_scp *scp) : DcmBaseSCPWorker(pool), scp_(scp) {
        scp_->workers++;
    }
    ~ScpWorker() override { scp_->workers--; }

    OFCondition setSharedConfig(const DcmSharedSCPConfig &config) override {
        return DcmThreadSCP::setSharedConfig(config);
    }
    OFBool busy() override { return DcmThreadSCP::isConnected(); }

protected:
    OFCondition workerListen(T_ASC_Association *const assoc) override {
        /* The pool deletes a finished worker from its own thread and never joins it;
         * detached, its stack is freed. Only the pool's final shutdown joins workers, and
         * dcm_scp_stop waits for every worker started before the stop first; one started
         * during the stop stays joinable for that shutdown. */
        if (!scp_->stopping) pthread_detach(pthread_self());
        assoc_ = assoc;
        if (assoc && assoc->params) {
            calling_ = trim(assoc->params->DULparams.callingAPTitle);
            peer_ = norm_host(assoc->params->DULparams.callingPresentationAddress);
        }
        return DcmThreadSCP::run(assoc);
    }

    OFBool checkCalledAETitleAccepted(const OFString &calledAE) override {
        if (scp_->stopping) {
            reject_reason_ = "service is shutting down";
            return OFFalse;
        }
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
            case DCMSCP_BAD_APPLICATION_CONTEXT_NAME: why = "bad application context name"; break;
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
        for (int i = 0; i < n; i++) {
            T_ASC_PresentationContext pc;
            if (ASC_getPresentationContext(params, i, &pc).bad()) continue;
            bool echo = !strcmp(pc.abstractSyntax, UID_VerificationSOPClass), storage = false;
            for (const char *sop : kStorageClasses) storage = storage || !strcmp(pc.abstractSyntax, sop);
            if (!echo && !storage) {
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
            if (chosen)
                ASC_acceptPresentationContext(params, pc.presentationContextID, chosen);
            else
                ASC_refusePresentationContext(params, pc.presentationContextID, ASC_P_TRANSFERSYNTAXESNOTSUPPORTED);
        }
        return EC_Normal;
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
    OFCondition handle_store(T_DIMSE_C_StoreRQ &req, const DcmPresentationContextInfo &info);
    uint16_t receive_into(int fd, const char *tmp, T_DIMSE_C_StoreRQ &req,
                          const DcmPresentationContextInfo &info, OFCondition *out_cond,
                          std::string *why);

    dcm_scp *scp_;
    T_ASC_Association *assoc_ = nullptr;
    std::string calling_, peer_, reject_reason_;
};

static bool disk_full(int e) { return e == ENOSPC || e == EDQUOT || e == EFBIG; }

/* RECEIVING + SYNCED. Returns a status; *out_cond is bad only for network errors. */
uint16_t ScpWorker::receive_into(int fd, const char *tmp, T_DIMSE_C_StoreRQ &req,
                                 const DcmPresentationContextInfo &info, OFCondition *out_cond,
                                 std::string *why) {
    DcmTmpConsumer consumer(fd);
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
    char tmp[4096];
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
        status = receive_into(fd, tmp, req, info, &cond, &why);
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
        status = scp_->handler.store ? scp_->handler.store(scp_->handler.ctx, &sr)
                                     : DCM_STATUS_PROCESSING_FAILURE;
        if (status != DCM_STATUS_SUCCESS) why = "the store handler refused it";
    }
    if (tmp[0] && unlink(tmp) != 0 && errno != ENOENT)   /* CLEANED */
        log_error(LOG_CAT_DICOM, "cannot remove temporary file %s: %s", tmp, strerror(errno));
    if (status == DCM_STATUS_SUCCESS)
        log_info(LOG_CAT_DICOM, "C-STORE %s from '%s': 0x%04x success (%llu bytes)",
                 req.AffectedSOPInstanceUID, calling_.c_str(), status, (unsigned long long)size);
    else
        log_warn(LOG_CAT_DICOM, "C-STORE %s from '%s': 0x%04x failure: %s", req.AffectedSOPInstanceUID,
                 calling_.c_str(), status, why.c_str());
    if (cond.bad()) return cond;             /* network error: the association is gone */
    return sendSTOREResponse(info.presentationContextID, req, status);
}

/* ------------------------------------------------------------------------------------- */

class ScpPool : public DcmBaseSCPPool {
public:
    explicit ScpPool(dcm_scp *scp) : scp_(scp) {}

protected:
    DcmBaseSCPWorker *createSCPWorker() override { return new ScpWorker(*this, scp_); }

    /* Called for associations the pool itself rejects (all slots busy) and after
     * failed receives. */
    void dropAndDestroyAssociation(T_ASC_Association *assoc) override {
        if (assoc && assoc->params && assoc->params->DULparams.callingAPTitle[0]) {
            std::string ae = trim(assoc->params->DULparams.callingAPTitle);
            std::string host = norm_host(assoc->params->DULparams.callingPresentationAddress);
            std::string why = "all " + std::to_string(getMaxThreads()) +
                              " association slots are busy (local limit exceeded)";
            scp_->event("rejected", ae.c_str(), host.c_str(), why.c_str());
        }
        DcmBaseSCPPool::dropAndDestroyAssociation(assoc);
    }

private:
    dcm_scp *scp_;
};

static void *listener_main(void *arg) {
    dcm_scp *scp = (dcm_scp *)arg;
    try {
        OFCondition c = scp->pool->listen();
        if (c.bad()) log_error(LOG_CAT_DICOM, "DICOM listener on port %u stopped: %s", scp->port, c.text());
    } catch (...) {
        log_error(LOG_CAT_DICOM, "DICOM listener on port %u stopped by an exception", scp->port);
    }
    return NULL;
}

/* Checks that the port can be bound (so start fails at once with a clear message) and,
 * for port 0, picks a free ephemeral one. */
static int probe_port(uint16_t *port, char *err, size_t errlen) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(*port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(err, errlen, "cannot bind DICOM port %u: %s (is another service using it?)",
                 *port, strerror(errno));
        close(fd);
        return -1;
    }
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    close(fd);
    return 0;
}

/* True once something listens on the port (from /proc/net/tcp{,6}, state 0A). */
static bool port_listening(uint16_t port) {
    const char *files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (const char *f : files) {
        FILE *fp = fopen(f, "r");
        if (!fp) continue;
        char line[512];
        bool found = false;
        while (!found && fgets(line, sizeof line, fp)) {
            char local[128];
            unsigned st = 0;
            if (sscanf(line, " %*d: %127s %*s %x", local, &st) != 2) continue;
            const char *colon = strrchr(local, ':');
            if (colon && strtoul(colon + 1, NULL, 16) == port && st == 0x0A) found = true;
        }
        fclose(fp);
        if (found) return true;
    }
    return false;
}

extern "C" int dcm_scp_start(const dcm_scp_config *cfg, const dcm_scp_handler *handler,
                             dcm_scp **out_scp, char *err, size_t errlen) {
    *out_scp = NULL;
    dcm_scp *scp = nullptr;
    try {
        if (!cfg || !handler || !handler->store) {
            snprintf(err, errlen, "dcm_scp_start: missing config or store handler");
            return -1;
        }
        std::string ae = trim(cfg->ae_title);
        if (ae.empty() || ae.size() > 16) {
            snprintf(err, errlen, "AE title '%s' must be 1..16 characters", cfg->ae_title ? cfg->ae_title : "");
            return -1;
        }
        if (!cfg->tmp_dir || !cfg->tmp_dir[0]) {
            snprintf(err, errlen, "no temporary directory configured for received files");
            return -1;
        }
        struct stat st;
        if (stat(cfg->tmp_dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(cfg->tmp_dir, W_OK) != 0) {
            snprintf(err, errlen, "temporary directory %s is not a writable directory", cfg->tmp_dir);
            return -1;
        }
        if (cfg->max_associations < 1 || cfg->max_associations > 1000) {
            snprintf(err, errlen, "max_associations %d out of range 1..1000", cfg->max_associations);
            return -1;
        }
        if (cfg->bind_address && cfg->bind_address[0] && strcmp(cfg->bind_address, "0.0.0.0") != 0 &&
            strcmp(cfg->bind_address, "::") != 0)
            log_warn(LOG_CAT_DICOM, "DCMTK 3.6.7 listens on all interfaces; bind address %s is not "
                     "applied, the calling AE + host allow-list guards access", cfg->bind_address);
        /* DCMTK's own log goes to stderr; keep it to warnings unless we debug. */
        OFLog::configure(log_current_level >= LOG_LVL_DEBUG ? OFLogger::INFO_LOG_LEVEL
                                                            : OFLogger::WARN_LOG_LEVEL);
        if (cfg->acse_timeout_s > 10)
            log_warn(LOG_CAT_DICOM, "acse_timeout %d s: a TCP connection that sends nothing blocks "
                     "new associations that long (DCMTK reads each request in its one listener "
                     "thread); 5 s is plenty for real senders", cfg->acse_timeout_s);
        uint16_t port = cfg->port;
        if (probe_port(&port, err, errlen) != 0) return -1;

        scp = new dcm_scp();
        scp->ae_title = ae;
        scp->tmp_dir = cfg->tmp_dir;
        scp->handler = *handler;
        scp->dimse_timeout_s = cfg->dimse_timeout_s > 0 ? cfg->dimse_timeout_s : 30;
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

        scp->pool = new ScpPool(scp);
        scp->pool->setMaxThreads((Uint16)cfg->max_associations);
        DcmSCPConfig &c = scp->pool->getConfig();
        c.setAETitle(ae.c_str());
        c.setPort(port);
        c.setConnectionBlockingMode(DUL_NOBLOCK);
        c.setConnectionTimeout(1);           /* the listener checks for stop every second */
        c.setACSETimeout(cfg->acse_timeout_s > 0 ? (Uint32)cfg->acse_timeout_s : 30);
        c.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        c.setDIMSETimeout((Uint32)scp->dimse_timeout_s);
        c.setHostLookupEnabled(OFFalse);
        if (cfg->max_pdu) c.setMaxReceivePDULength((Uint32)cfg->max_pdu);
        OFList<OFString> ts, echo_ts;
        for (const char *t : kTransferSyntaxes) ts.push_back(t);
        echo_ts.push_back(UID_LittleEndianExplicitTransferSyntax);
        echo_ts.push_back(UID_LittleEndianImplicitTransferSyntax);
        OFCondition oc = c.addPresentationContext(UID_VerificationSOPClass, echo_ts);
        for (const char *sop : kStorageClasses)
            if (oc.good()) oc = c.addPresentationContext(sop, ts);
        if (oc.bad()) {
            snprintf(err, errlen, "cannot configure presentation contexts: %s", oc.text());
            goto fail;
        }
        if (pthread_create(&scp->listener, NULL, listener_main, scp) != 0) {
            snprintf(err, errlen, "cannot start the DICOM listener thread");
            goto fail;
        }
        scp->listener_started = true;
        for (int i = 0; i < 200 && !port_listening(port); i++) usleep(10000);
        log_info(LOG_CAT_DICOM, "DICOM SCP '%s' listening on port %u (%d associations, %zu allow-list entries)",
                 ae.c_str(), port, cfg->max_associations, scp->allow.size());
        *out_scp = scp;
        return 0;
    } catch (...) {
        snprintf(err, errlen, "dcm_scp_start: unexpected exception");
    }
fail:
    if (scp) {
        delete scp->pool;
        delete scp;
    }
    return -1;
}

extern "C" void dcm_scp_stop(dcm_scp *scp) {
    if (!scp) return;
    try {
        scp->stopping = true;
        /* Workers finish their current store, abort idle associations within a second and
         * leave; the pool must not join them (they are detached), so wait here first. */
        while (scp->pool->numThreads(OFFalse) > 0) usleep(20000);
        scp->pool->stopAfterCurrentAssociations();
        if (scp->listener_started) pthread_join(scp->listener, NULL);
        delete scp->pool;
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
