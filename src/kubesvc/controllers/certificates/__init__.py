"""The certificates.k8s.io controllers of kube-controller-manager
(``pkg/controller/certificates``): :mod:`.approver` (csrapproving: auto-approves node client
certificates after a SubjectAccessReview), :mod:`.signer` (csrsigning: issues approved
requests of the kube-apiserver-client signers from the cluster CA) and :mod:`.cleaner`
(csrcleaner: deletes old requests). Built by :mod:`kubesvc.controllers.manager`.
"""

from kubesvc.controllers.certificates.approver import Authorize, CsrApprover
from kubesvc.controllers.certificates.cleaner import CsrCleaner
from kubesvc.controllers.certificates.signer import CsrSigner

__all__ = ["Authorize", "CsrApprover", "CsrCleaner", "CsrSigner"]
