namespace Functional.Shapes;

/// <summary>The padding modes Keras knows.</summary>
public enum PaddingKind
{
    /// <summary>No padding: windows stay inside the input.</summary>
    Valid,
    /// <summary>TensorFlow <c>same</c>: output length ⌈n/s⌉, padding split with the extra element after.</summary>
    Same,
    /// <summary>Causal (Conv1D only): all padding before, so output t sees inputs ≤ t.</summary>
    Causal,
}

/// <summary>
/// Keras's <c>padding</c> argument. Strings convert implicitly and are normalised as Keras does
/// (<c>"SAME"</c> → <c>same</c>); an unknown string is rejected naming the value.
/// </summary>
/// <remarks>The default value is <c>valid</c>, Keras's default.</remarks>
public readonly record struct Padding(PaddingKind Kind)
{
    /// <summary><c>valid</c>: no padding.</summary>
    public static readonly Padding Valid = new(PaddingKind.Valid);
    /// <summary><c>same</c>: TensorFlow's same padding.</summary>
    public static readonly Padding Same = new(PaddingKind.Same);
    /// <summary><c>causal</c>: left padding for Conv1D.</summary>
    public static readonly Padding Causal = new(PaddingKind.Causal);

    /// <summary>Parses <c>valid</c>, <c>same</c> or <c>causal</c>, case-insensitively.</summary>
    /// <exception cref="ArgumentException">Any other value.</exception>
    public static Padding Parse(string value) => value?.Trim().ToLowerInvariant() switch
    {
        "valid" => Valid,
        "same" => Same,
        "causal" => Causal,
        _ => throw new ArgumentException(
            $"Expected argument 'padding' to be one of 'valid', 'same' or 'causal'. Received: padding={Quote(value)}.", "padding"),
    };

    /// <summary>Keras's spelling.</summary>
    public override string ToString() => Kind.ToString().ToLowerInvariant();

    /// <summary>Converts Keras's string form.</summary>
    public static implicit operator Padding(string value) => OptionConversion.Convert(value, v => Parse(v!));

    internal static string Quote(string? s) => s is null ? "None" : $"'{s}'";
}

/// <summary>Keras's <c>data_format</c>: where the channel axis is.</summary>
public enum DataFormatKind
{
    /// <summary><c>(batch, ..., channels)</c>, Keras's default.</summary>
    ChannelsLast,
    /// <summary><c>(batch, channels, ...)</c>, PyTorch's native layout.</summary>
    ChannelsFirst,
}

/// <summary>
/// Keras's <c>data_format</c> argument (<c>channels_last</c> by default). Strings convert implicitly;
/// an unknown string is rejected naming the value.
/// </summary>
/// <remarks>The default value is <c>channels_last</c>, Keras's default.</remarks>
public readonly record struct DataFormat(DataFormatKind Kind)
{
    /// <summary><c>channels_last</c>.</summary>
    public static readonly DataFormat ChannelsLast = new(DataFormatKind.ChannelsLast);
    /// <summary><c>channels_first</c>.</summary>
    public static readonly DataFormat ChannelsFirst = new(DataFormatKind.ChannelsFirst);

    /// <summary>Parses <c>channels_last</c> or <c>channels_first</c>, case-insensitively.</summary>
    public static DataFormat Parse(string value) => value?.Trim().ToLowerInvariant() switch
    {
        "channels_last" => ChannelsLast,
        "channels_first" => ChannelsFirst,
        _ => throw new ArgumentException(
            $"Expected argument 'data_format' to be 'channels_last' or 'channels_first'. Received: data_format={Padding.Quote(value)}.", "dataFormat"),
    };

    /// <summary>True for <c>channels_last</c>.</summary>
    public bool IsChannelsLast => Kind == DataFormatKind.ChannelsLast;

    /// <summary>Keras's spelling.</summary>
    public override string ToString() => IsChannelsLast ? "channels_last" : "channels_first";

    /// <summary>Converts Keras's string form.</summary>
    public static implicit operator DataFormat(string value) => OptionConversion.Convert(value, v => Parse(v!));

    /// <summary>The index of the channel axis in a per-sample shape of the given rank.</summary>
    public int ChannelAxis(int rank) => IsChannelsLast ? rank - 1 : 0;

    /// <summary>The indices of the spatial axes in a per-sample shape of the given rank.</summary>
    public int[] SpatialAxes(int rank) => IsChannelsLast
        ? Enumerable.Range(0, rank - 1).ToArray()
        : Enumerable.Range(1, rank - 1).ToArray();
}
