namespace KeyPool.Emulator.Faults;

/// <summary>What a successful answer is replaced with, once.</summary>
internal enum AnswerFault
{
    None,

    /// <summary>The connection is aborted before the status line.</summary>
    ResetBeforeFirstByte,

    /// <summary>200 with the right content type and bytes that are neither JSON nor SSE.</summary>
    Garbled,
}
