namespace KeyPool.Emulator.Completions;

/// <summary>
/// Thrown out of a handler to cut a stream. Kestrel answers an exception after the response has
/// started by closing the connection without the final chunk, once the chunks already written are
/// sent; HttpContext.Abort would discard them (RST), so clients could not count what they got.
/// </summary>
internal sealed class InjectedStreamResetException(int chunks)
    : Exception($"Stream reset injected by the emulator after {chunks} chunks.");
