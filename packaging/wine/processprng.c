/*
 * bcryptprimitives.dll for wine 8.0, which lacks it: the Go runtime (1.22 and
 * later) loads it at start for ProcessPrng, so without it a Go program for
 * Windows dies before main. This DLL is for running the Windows build under
 * wine in CI only; it is never shipped.
 *
 * ProcessPrng fills data with len random bytes and always succeeds, so
 * should the system source fail, the process ends rather than return bytes
 * that are not random.
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!RtlGenRandom(data, n))
			ExitProcess(3);
		data += n;
		len -= n;
	}
	return TRUE;
}
