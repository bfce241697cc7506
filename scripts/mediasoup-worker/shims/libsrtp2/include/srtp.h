// mediasoup 3.15 is written against a libsrtp 3.0 fork whose protect/unprotect calls take
// size_t* lengths and which renamed srtp_remove_stream. Debian ships libsrtp2 2.5 (int*).
#pragma once
#include <srtp2/srtp.h>
#ifdef __cplusplus
#include <cstddef>
#define MS_SRTP_SIZE_T_LEN(fn)                                                         \
	inline srtp_err_status_t fn(srtp_t ctx, void* hdr, size_t* len)                    \
	{                                                                                  \
		int l                     = static_cast<int>(*len);                            \
		const srtp_err_status_t e = fn(ctx, hdr, &l);                                  \
		*len                      = static_cast<size_t>(l);                            \
		return e;                                                                      \
	}
MS_SRTP_SIZE_T_LEN(srtp_protect)
MS_SRTP_SIZE_T_LEN(srtp_unprotect)
MS_SRTP_SIZE_T_LEN(srtp_protect_rtcp)
MS_SRTP_SIZE_T_LEN(srtp_unprotect_rtcp)
#undef MS_SRTP_SIZE_T_LEN
inline srtp_err_status_t srtp_stream_remove(srtp_t session, unsigned int ssrc)
{
	return srtp_remove_stream(session, ssrc);
}
#endif
