namespace Functional.Shapes;

/// <summary>
/// How a Keras option given as a string — an activation, padding, data format, initializer, regularizer, constraint,
/// reduction, loss, metric or optimizer name — reports a value it does not know. Those strings convert implicitly, so
/// the conversion runs in the caller's own code, before any library method is entered. A front end that shows errors
/// its own way sets <see cref="Report"/>: F# Interactive (the F# DSL's <c>ScriptErrors</c>) shows the library's
/// message and the script line instead of a stack dump.
/// </summary>
public static class OptionConversion
{
    /// <summary>
    /// Turns the library's <see cref="ArgumentException"/> for an option string it does not know into the exception to
    /// throw (called where the conversion fails, so the caller's frames are still on the stack); null, the default,
    /// throws the library's own exception unchanged.
    /// </summary>
    public static Func<ArgumentException, Exception>? Report { get; set; }

    /// <summary>Converts <paramref name="value"/> with <paramref name="parse"/>, passing a rejection through <see cref="Report"/>.</summary>
    public static T Convert<T>(string? value, Func<string?, T> parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        try
        {
            return parse(value);
        }
        catch (ArgumentException e) when (Report is { } report)
        {
            throw report(e);
        }
    }
}
