/* dcm_scu.cc: see dcm_scu.h. One association per file: the outbox sends a few objects per
 * study, and a fresh association keeps one failure from poisoning the next send. */
#include "dicom/dcm_scu.h"

#include "dicom/dcm_derived.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scu.h>

#include <exception>

using dcm_derived::set_err;

namespace {

int store(const dcm_scu_peer *p, const char *path, char *err, size_t errlen) {
    if (!p || !p->called_ae || !p->host || p->port <= 0 || !path) {
        set_err(err, errlen, "store: peer and file are required");
        return -1;
    }
    DcmFileFormat ff;
    OFCondition c = ff.loadFile(path);
    if (c.bad()) {
        set_err(err, errlen, "%s: %s", path, c.text());
        return -1;
    }
    OFString sop_class, xfer_uid;
    ff.getDataset()->findAndGetOFString(DCM_SOPClassUID, sop_class);
    const E_TransferSyntax xfer = ff.getDataset()->getOriginalXfer();
    DcmSCU scu;
    scu.setAETitle(p->calling_ae && p->calling_ae[0] ? p->calling_ae : "MAMAD");
    scu.setPeerAETitle(p->called_ae);
    scu.setPeerHostName(p->host);
    scu.setPeerPort((Uint16)p->port);
    const int t = p->timeout_s > 0 ? p->timeout_s : 30;
    scu.setConnectionTimeout(t);
    scu.setACSETimeout((Uint32)t);
    scu.setDIMSETimeout((Uint32)t);
    scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    OFList<OFString> ts;
    ts.push_back(DcmXfer(xfer == EXS_Unknown ? EXS_LittleEndianExplicit : xfer).getXferID());
    if (xfer != EXS_LittleEndianImplicit) ts.push_back(UID_LittleEndianImplicitTransferSyntax);
    scu.addPresentationContext(sop_class, ts);
    if ((c = scu.initNetwork()).bad() || (c = scu.negotiateAssociation()).bad()) {
        set_err(err, errlen, "%s@%s:%d: association: %s", p->called_ae, p->host, p->port, c.text());
        return -1;
    }
    T_ASC_PresentationContextID pc = scu.findAnyPresentationContextID(sop_class, "");
    if (pc == 0) {
        scu.releaseAssociation();
        set_err(err, errlen, "%s@%s:%d accepted no presentation context for %s", p->called_ae, p->host,
                p->port, sop_class.c_str());
        return -1;
    }
    Uint16 status = 0;
    c = scu.sendSTORERequest(pc, path, nullptr, status);
    scu.releaseAssociation();
    if (c.bad()) {
        set_err(err, errlen, "%s@%s:%d: C-STORE: %s", p->called_ae, p->host, p->port, c.text());
        return -1;
    }
    if (status != 0 && (status & 0xF000) != 0xB000) {
        set_err(err, errlen, "%s@%s:%d answered C-STORE status 0x%04x", p->called_ae, p->host, p->port,
                status);
        return -1;
    }
    return 0;
}

} // namespace

extern "C" int dcm_scu_store(const dcm_scu_peer *peer, const char *path, char *err, size_t errlen) {
    try {
        return store(peer, path, err, errlen);
    } catch (const std::exception &e) {
        set_err(err, errlen, "store %s: %s", path ? path : "?", e.what());
    } catch (...) {
        set_err(err, errlen, "store %s: unexpected C++ exception", path ? path : "?");
    }
    return -1;
}
